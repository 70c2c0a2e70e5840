"""Properties every KPI must have, through the real pipeline: results do not depend on
the order deliveries arrive in, and both perspectives give the same numbers when the
sponsor's and the CRO's records agree."""

from __future__ import annotations

import json
import random
from pathlib import Path

from orchestration.contract import load_contract
from orchestration.ingest.loader import ensure_warehouse, ingest_feed
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for, write_delivery

KPI_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"


VOLATILE = {"_delivery_id", "_built_at", "extract_at", "first_seen_at", "last_seen_at",  # when a file arrived or was built, not what it said
            # source_freshness and the audit trail: wall-clock times of ingestion and of the build
            "last_received_at", "last_loaded_at", "oldest_held_at", "hours_since_received", "hours_since_loaded", "hours_oldest_held",
            "seen_at"}


def marts(warehouse: Path) -> dict[str, list]:
    with connect(warehouse, read_only=True) as con:
        columns_by_table: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'marts' order by table_name, ordinal_position"
        ).fetchall():
            if column not in VOLATILE:
                columns_by_table.setdefault(table, []).append(f'"{column}"')
        return {
            table: con.execute(f"select {', '.join(columns)} from marts.{table} order by all").fetchall()
            for table, columns in columns_by_table.items()
        }


def test_shuffled_arrival_of_incremental_deliveries_gives_identical_marts(tmp_path):
    in_order = settings_for(tmp_path / "in_order", KPI_FIXTURE, as_of="2026-06-30")
    assert run_pipeline(in_order).success

    shuffled_landing = tmp_path / "shuffled" / "landing"
    shuffled = settings_for(tmp_path / "shuffled", shuffled_landing, as_of="2026-06-30")
    files = sorted(KPI_FIXTURE.glob("*/*__*"))
    random.Random(20261124).shuffle(files)
    contract = load_contract()
    with connect(shuffled.warehouse) as con:
        ensure_warehouse(con, contract)
        for path in files:  # each file arrives on its own, in shuffled order, and is ingested
            write_delivery(shuffled_landing, path.parent.name, path.name, path.read_bytes())
            for feed in contract.feeds:
                ingest_feed(con, contract, feed, shuffled_landing, shuffled.archive_dir, shuffled.quality_docs_dir)
    assert run_pipeline(shuffled).success

    assert marts(shuffled.warehouse) == marts(in_order.warehouse)


# sponsor code: (CRO event, date) of the site start-up pack items, and the close-out dates
PACKS = {
    "0101": {"SITE_SEL": ("SITE_SELECTED", "2026-01-20"), "SITE_IRB": ("SITE_IRB_OK", "2026-02-10"),
             "SITE_CTA": ("SITE_CTA_SIGNED", "2026-03-05"), "SITE_SYS": ("SITE_SYSTEMS_READY", "2026-03-30")},
    "0102": {"SITE_SEL": ("SITE_SELECTED", "2026-01-25"), "SITE_IRB": ("SITE_IRB_OK", "2026-03-01")},
}
CLOSEOUT = {"LPI": "2026-05-10", "DB_LOCK": "2026-05-20", "TMF_RECON": "2026-05-25", "FIN_RECON": "2026-05-28"}  # before the 1 Jun extract


def agreeing_portfolio(landing: Path) -> None:
    """One study where the sponsor's milestones are exactly the CRO's events."""
    dates = {"CTRY_READY": {"FR": "2026-03-01", "DE": "2026-03-20"}, "SITE": {"0101": "2026-04-05", "0102": "2026-04-12", "0201": "2026-05-02"}}
    screened = {"0101": "2026-05-01", "0201": "2026-05-30"}
    sites = {"0101": ("FR-PAR-01", "FR", "France"), "0102": ("FR-LYO-01", "FR", "France"), "0201": ("DE-BER-01", "DE", "Germany")}
    write_delivery(landing, "sponsor", "studies__20260601T020000Z.csv",
                   "study_id,protocol_version,protocol_final_date,phase,therapeutic_area,cro_id,planned_countries,planned_sites,planned_subjects,budget_currency,status\n"
                   "ST-2,1.0,2026-01-15,3,Neurology,acme,2,3,20,USD,ACTIVE\n")
    write_delivery(landing, "sponsor", "country_plan__20260601T020000Z.csv",
                   "study_id,country,planned_sites,planned_subjects,planned_country_ready,planned_first_site_ready,planned_fpi\n"
                   "ST-2,FR,2,12,,,\nST-2,DE,1,8,,,\n")
    milestones = ["study_id,country,site_number,milestone,planned_date,actual_date,updated_at"]
    milestones += [f"ST-2,{c},,CTRY_READY,,{d},2026-06-01T00:00:00Z" for c, d in dates["CTRY_READY"].items()]
    milestones += [f"ST-2,{sites[s][1]},{s},SITE_READY,,{d},2026-06-01T00:00:00Z" for s, d in dates["SITE"].items()]
    milestones += [f"ST-2,{sites[s][1]},{s},FPI,,{d},2026-06-01T00:00:00Z" for s, d in screened.items()]
    milestones += ["ST-2,FR,,FPI,,2026-05-01,2026-06-01T00:00:00Z", "ST-2,DE,,FPI,,2026-05-30,2026-06-01T00:00:00Z",
                   "ST-2,,,FPI,,2026-05-01,2026-06-01T00:00:00Z"]
    # the site start-up packs of 0101 and 0102 and the close-out, the same on both sides (#16)
    milestones += [f"ST-2,FR,{s},{code},,{d},2026-06-01T00:00:00Z" for s, items in PACKS.items() for code, (_, d) in items.items()]
    milestones += [f"ST-2,,,{code},,{d},2026-06-01T00:00:00Z" for code, d in CLOSEOUT.items()]
    write_delivery(landing, "sponsor", "milestones__20260601T020000Z.csv", "\n".join(milestones) + "\n")
    write_delivery(landing, "cro-acme", "studies__20260601T030000Z.csv", "CroStudyRef,SponsorStudyId,ProtocolVersion\nACM-0002,ST-2,1.0\n")
    write_delivery(landing, "cro-acme", "sites__20260601T030000Z.csv", "CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\n"
                   + "".join(f"ACM-0002,{code},{number},{name},Enrolling\n" for number, (code, _, name) in sites.items()))
    names = {"FR": "France", "DE": "Germany"}

    def event(number, kind, day, country, site=None, subject=None):
        return json.dumps({"event_id": f"E-{number}", "type": kind, "study": "ACM-0002", "country": country, "site": site,
                           "subject": subject, "at": f"{day}T10:00:00+02:00", "recorded_at": f"{day}T18:00:00+02:00", "supersedes": None})

    events = [event(i, "CTRY_READY", d, names[c]) for i, (c, d) in enumerate(dates["CTRY_READY"].items())]
    events += [event(10 + i, "SITE_SIV", d, sites[s][2], sites[s][0]) for i, (s, d) in enumerate(dates["SITE"].items())]
    events += [event(20 + i, "SUBJ_SCREENED", d, sites[s][2], sites[s][0], f"{sites[s][0]}-001") for i, (s, d) in enumerate(screened.items())]
    events += [event(30 + 4 * i + j, kind, d, "France", sites[s][0]) for i, (s, items) in enumerate(PACKS.items())
               for j, (kind, d) in enumerate(items.values())]
    events += [event(40, "SUBJ_RANDOMIZED", CLOSEOUT["LPI"], "France", "FR-PAR-01", "FR-PAR-01-001")]
    events += [event(41 + i, code, CLOSEOUT[code], None) for i, code in enumerate(("DB_LOCK", "TMF_RECON", "FIN_RECON"))]
    write_delivery(landing, "cro-acme", "events__20260601T030000Z.jsonl", "\n".join(events) + "\n")


def test_agreeing_records_give_identical_numbers_in_both_perspectives(tmp_path):
    agreeing_portfolio(tmp_path / "landing")
    settings = settings_for(tmp_path, tmp_path / "landing", as_of="2026-06-30")
    assert run_pipeline(settings).success

    with connect(settings.warehouse, read_only=True) as con:
        for mart in ("kpi_study_startup", "kpi_country_startup", "kpi_site_readiness", "kpi_country_readiness", "kpi_closeout"):
            by_perspective = {
                perspective: con.execute(f"select * exclude (perspective) from marts.{mart} where perspective = ? order by all", [perspective]).fetchall()
                for perspective in ("sponsor", "cro")
            }
            assert by_perspective["sponsor"] == by_perspective["cro"], mart
            assert by_perspective["cro"], mart
        assert con.execute("select status, count(*) from marts.rpt_milestone_discrepancies group by status").fetchall() == [("MATCH", 19)]
        # 10 = 2 countries ready + 3 sites ready + FPI: 1 study, 2 countries, 2 sites;
        # + 6 pack items (4 at 0101, 2 at 0102) + DB_LOCK, TMF_RECON, FIN_RECON = 19 (#16)
        assert con.execute("select perspective, closeout_state, days_lpi_to_db_lock from marts.kpi_closeout order by all").fetchall() == [
            ("cro", "CLOSED", 10), ("sponsor", "CLOSED", 10)]  # 10 May -> 20 May = 10 days
        assert con.execute("select perspective, site_code, pack_state, pack_items_done from marts.kpi_site_readiness "
                           "where site_code in ('0101', '0102') order by all").fetchall() == [
            ("cro", "0101", "READY", 4), ("cro", "0102", "READY", 2), ("sponsor", "0101", "READY", 4), ("sponsor", "0102", "READY", 2)]  # both SIV done
