"""Dispute evidence (#18) on the KPI fixture (tests/fixtures/kpi/README.md), through the
real assets into temporary DuckDB files: every KPI mart with an evidence model is
reproduced by its evidence rows, each record's file is an archived delivery, evidence
packs verify on their own, KPIs are rebuilt as of a past date from the archive, and the
change log and audit trail show what changed (tests/fixtures/evidence/README.md)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from cg_evidence import query
from cg_evidence.declarations import evidence_models, kpi_marts, model_nodes
from orchestration.contract import load_contract
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for

KPI_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"
OPERATIONS_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "operations"
FIXTURES = ("kpi", "operations")  # the KPI fixture has no deviation or risk: the operations fixture has
EVIDENCE_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "evidence"
CG_EVIDENCE = Path(sys.executable).parent / "cg-evidence"
EVIDENCE = evidence_models()


@pytest.fixture(scope="module")
def kpi_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence_kpi")
    settings = settings_for(root, KPI_FIXTURE, as_of="2026-06-30")
    assert run_pipeline(settings).success
    return settings


@pytest.fixture(scope="module")
def operations_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence_operations")
    settings = settings_for(root, OPERATIONS_FIXTURE, as_of="2026-06-30")
    assert run_pipeline(settings).success
    return settings


@pytest.fixture(scope="module")
def changed_build(tmp_path_factory):
    """The KPI fixture with the evidence fixture's second snapshots laid over it."""
    root = tmp_path_factory.mktemp("evidence_changed")
    landing = root / "landing"
    shutil.copytree(KPI_FIXTURE, landing, ignore=shutil.ignore_patterns("README.md"))
    shutil.copytree(EVIDENCE_FIXTURE, landing, ignore=shutil.ignore_patterns("README.md"), dirs_exist_ok=True)
    settings = settings_for(root, landing, as_of="2026-06-30")
    assert run_pipeline(settings).success
    return settings


def cg_evidence(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.dbt_env(), "CG_ARCHIVE_DIR": str(settings.archive_dir)}
    return subprocess.run([str(CG_EVIDENCE), *args], env=env, capture_output=True, text=True, timeout=1200)


def printed_section(output: str, title: str) -> list[list[str]]:
    """The CSV rows printed under `title:` (header included), up to the blank line."""
    lines = output.split(f"\n{title}", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return list(csv.reader(lines))


def printed_hash(output: str) -> str:
    return re.search(r"^KPI rows SHA-256: ([0-9a-f]{64})$", output, re.MULTILINE)[1]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Every evidence model: its rows, aggregated as its YAML declares, are the KPI mart ------


def built(request, fixture: str):
    return request.getfixturevalue(f"{fixture}_build")


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("kpi", sorted(EVIDENCE))
def test_the_evidence_rows_aggregated_by_the_mart_s_definition_are_the_kpi(request, fixture, kpi):
    evidence = EVIDENCE[kpi]
    measures = [column for column, _ in evidence.measures]
    with connect(built(request, fixture).warehouse, read_only=True) as con:
        from_evidence = query.evidence_counts(con, evidence)
        mart = query.fetch(
            con, f"select {', '.join([*evidence.key, *measures])} from {evidence.kpi_relation} order by {', '.join(evidence.key)}", [],
        )
    assert from_evidence.columns == mart.columns
    assert from_evidence.rows == mart.rows


@pytest.mark.parametrize("kpi", sorted(EVIDENCE))
def test_every_evidence_model_has_records_and_kpi_rows_on_a_fixture(request, kpi):
    # So that the comparison above is never one of two empty tables for every fixture.
    evidence = EVIDENCE[kpi]
    found = []
    for fixture in FIXTURES:
        with connect(built(request, fixture).warehouse, read_only=True) as con:
            (records,) = con.execute(f"select count(*) from {evidence.relation}").fetchone()
            (kpi_rows,) = con.execute(f"select count(*) from {evidence.kpi_relation}").fetchone()
        found.append(records > 0 and kpi_rows > 0)
    assert any(found)


def test_every_kpi_mart_has_an_evidence_model():
    # The KPI marts are the dbt models under models/marts/kpi/, read from the manifest; each
    # needs one declaration (meta `evidence`), which drives the tests above.
    marts = kpi_marts()
    assert len(marts) >= 16
    assert [mart for mart in marts if mart not in EVIDENCE] == []  # KPI marts without an evidence model
    assert [kpi for kpi in EVIDENCE if kpi not in marts] == []  # evidence of a model that is no KPI mart


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("kpi", sorted(EVIDENCE))
def test_every_evidence_row_s_file_is_an_archived_delivery_with_that_hash(request, fixture, kpi):
    evidence = EVIDENCE[kpi]
    build = built(request, fixture)
    with connect(build.warehouse, read_only=True) as con:
        files = con.execute(
            f"select distinct source, file_name, file_sha256 from {evidence.relation} order by all"
        ).fetchall()
    assert all(sha256 for _, _, sha256 in files)
    for source, file_name, sha256 in files:
        archived = build.archive_dir / source / f"{sha256[:16]}-{file_name}"
        assert archived.is_file() and sha256_of(archived) == sha256, archived


def test_the_verification_evidence_of_france_hand_checked(kpi_build):
    # The six FR visits (README): SCR visits are not CTQ; PAR W04 (20 Jun) is due only on
    # 4 Jul; PAR RND verified in 10 days (within 14), LYO RND in 21 (from its second
    # version, in visits of 8 Jun), LYO W04 due 15 Jun and never verified.
    with connect(kpi_build.warehouse, read_only=True) as con:
        rows = con.execute(
            "select site_number, visit_code, is_counted, is_due, is_within_sla, is_open_overdue, exclusion_reason, file_name, row_number "
            "from marts.evidence_verification_timeliness where country_code = 'FR' order by site_number, visit_code"
        ).fetchall()
    assert rows == [
        ("0101", "RND", True, True, True, False, None, "visits__20260601T030000Z.csv", 2),
        ("0101", "SCR", False, False, False, False, "not_ctq: SCR is not a critical-to-quality visit", "visits__20260601T030000Z.csv", 1),
        ("0101", "W04", True, False, False, False, "not_yet_due: SLA of 14 days from 2026-06-20 not over at the as-of date",
         "visits__20260629T030000Z.csv", 1),
        ("0102", "RND", True, True, False, False, None, "visits__20260608T030000Z.csv", 1),
        ("0102", "SCR", False, False, False, False, "not_ctq: SCR is not a critical-to-quality visit", "visits__20260601T030000Z.csv", 3),
        ("0102", "W04", True, True, False, True, None, "visits__20260608T030000Z.csv", 2),
    ]


def test_the_deviation_evidence_of_site_0101_hand_checked(operations_build):
    # tests/fixtures/operations/README.md: DV-1 opened 20 May (E-20), closed 8 Jun (E-21),
    # 19 days; DV-2 opened 25 May (E-22), E-24 corrects its close E-23 into an opening:
    # E-24 is its latest event and keeps it open, 36 days at 30 Jun; DV-3 voided (not
    # listed); DV-5 3 -> 10 Jun, 7 days. Counted openings 3, closings 2 -> median(19, 7).
    with connect(operations_build.warehouse, read_only=True) as con:
        rows = con.execute(
            "select deviation_id, event_id, sets, is_open, days_to_close, days_open, correction_applied, file_name, row_number "
            "from marts.evidence_deviations where site_code = '0101' order by deviation_id, event_id"
        ).fetchall()
    assert rows == [
        ("DV-1", "E-20", "opens", False, 19, None, None, "events__20260601T030000Z.jsonl", 6),
        ("DV-1", "E-21", "closes", False, 19, None, None, "events__20260615T030000Z.jsonl", 7),
        ("DV-2", "E-22", "opens", True, None, 36, None, "events__20260601T030000Z.jsonl", 7),
        ("DV-2", "E-24", "keeps_open", True, None, 36, "corrects E-23", "events__20260615T030000Z.jsonl", 2),
        ("DV-5", "E-28", "opens", False, 7, None, None, "events__20260615T030000Z.jsonl", 5),
        ("DV-5", "E-29", "closes", False, 7, None, None, "events__20260615T030000Z.jsonl", 6),
    ]


def test_the_risk_evidence_shows_the_corrected_opening(operations_build):
    # RK-1: closed 10 Apr (E-31); E-32 corrects the opening E-30 (1 Mar) to 15 Mar: 26 days.
    with connect(operations_build.warehouse, read_only=True) as con:
        rows = con.execute(
            "select event_id, sets, occurred_date, correction_applied from marts.evidence_risks where risk_id = 'RK-1' order by event_id"
        ).fetchall()
        counts = query.evidence_counts(con, EVIDENCE["kpi_risks"], {"study_id": "ST-A"})
    assert [(event, sets, str(day), correction) for event, sets, day, correction in rows] == [
        ("E-31", "closes", "2026-04-10", None), ("E-32", "opens", "2026-03-15", "corrects E-30"),
    ]
    assert [(row[1], row[4], row[5]) for row in counts.rows] == [("RK-1", 26, False), ("RK-2", 29, True), ("RK-3", 60, True)]


def test_the_data_quality_evidence_of_june_s_events_hand_checked(operations_build):
    # Four deliveries: 0615 loaded 9 of 11 (E-41 held at ingestion, E-40 in the conformed
    # layer), 0622 its duplicate (11 received, nothing else); the open code first held in
    # 0615 row 10; lags of the 18 accepted: 15 zeros, 1, 9, 87 -> median 0.
    with connect(operations_build.warehouse, read_only=True) as con:
        rows = con.execute(
            "select record_kind, record_id, delivery_status, rows_received, rows_accepted, rows_quarantined, days_late, records, "
            "file_name, row_number from marts.evidence_data_quality where feed = 'events' and month = '2026-06' "
            "and record_kind <> 'recorded_lag' order by record_kind, file_name"
        ).fetchall()
        (lags,) = con.execute(
            "select list(days_late order by days_late) from (select unnest(list_resize([days_late], records, days_late)) as days_late "
            "from marts.evidence_data_quality where feed = 'events' and month = '2026-06' and record_kind = 'recorded_lag')"
        ).fetchone()
    assert rows == [
        ("delivery", "events__20260601T030000Z.jsonl", "loaded", 7, 7, 0, None, None, "events__20260601T030000Z.jsonl", None),
        ("delivery", "events__20260615T030000Z.jsonl", "loaded", 11, 9, 2, None, None, "events__20260615T030000Z.jsonl", None),
        ("delivery", "events__20260622T030000Z.jsonl", "duplicate", 11, 0, 0, None, None, "events__20260622T030000Z.jsonl", None),
        ("delivery", "events__20260629T030000Z.jsonl", "loaded", 2, 2, 0, None, None, "events__20260629T030000Z.jsonl", None),
        ("unmapped_code", "unmapped_country: Untied States", None, None, None, None, None, None, "events__20260615T030000Z.jsonl", 10),
    ]
    assert lags == [0] * 15 + [1, 9, 87]


def test_the_forecast_accuracy_evidence_says_which_months_are_not_compared(kpi_build):
    # Accruals in April, May, June; forecast versions 2026-01, 03, 04. Lag 3: April is
    # compared with version 2026-01, May would need 2026-02 (none), June is not closed.
    with connect(kpi_build.warehouse, read_only=True) as con:
        rows = con.execute(
            "select month_compared, record_kind, forecast_version, is_counted, exclusion_reason, month_abs_error "
            "from marts.evidence_forecast_accuracy where cost_bucket = 'MONITORING' and lag_months = 3 order by all"
        ).fetchall()
    assert rows == [
        ("2026-04", "accrual", None, True, None, Decimal("130.00")),  # EUR 1000 at 1.13 = 1130 against 1000
        ("2026-04", "forecast", "2026-01", True, None, None),
        ("2026-05", "accrual", None, False, "no_version: no forecast version made in 2026-02, 3 months before 2026-05", None),
        ("2026-06", "accrual", None, False, "not_closed: 2026-06 is not before the as-of month", None),
    ]


def test_cg_evidence_shows_a_kpi_without_a_study_by_its_own_key(operations_build):
    shown = cg_evidence(operations_build, "kpi_data_quality", "--source", "cro-acme", "--feed", "visits")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert printed_section(shown.stdout, "Counts")[1][:8] == ["cro-acme", "visits", "2026-06", "1", "0", "0", "1", "0"]
    by_study = cg_evidence(operations_build, "kpi_data_quality", "--study", "ST-A")
    assert by_study.returncode == 2 and "it takes no --study" in by_study.stderr


# The CLI and evidence packs ----------------------------------------------------------


def test_cg_evidence_prints_the_kpi_its_counts_and_its_records(kpi_build):
    shown = cg_evidence(kpi_build, "kpi_verification_timeliness", "--study", "ST-1", "--country", "FR")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert printed_section(shown.stdout, "KPI:")[1] == ["shared", "ST-1", "FR", "3", "1", "0.3333", "15.5", "1", "2", "14"]
    assert printed_section(shown.stdout, "Counts")[1] == ["ST-1", "FR", "3", "1", "0.3333", "15.5", "1", "2"]
    records = printed_section(shown.stdout, "Records:")
    assert len(records) == 1 + 6
    assert records[0][-6:] == ["source", "file_name", "file_sha256", "row_number", "extract_at", "delivery_id"]
    assert [record[4] for record in records[1:]] == ["RND", "SCR", "W04", "RND", "SCR", "W04"]


def test_cg_evidence_says_which_kpis_it_knows(kpi_build):
    unknown = cg_evidence(kpi_build, "kpi_nothing", "--study", "ST-1")
    assert unknown.returncode == 2
    assert f"KPI marts with evidence: {', '.join(EVIDENCE)}" in unknown.stderr
    study_level = cg_evidence(kpi_build, "kpi_accrual_coverage", "--study", "ST-1", "--country", "FR")
    assert study_level.returncode == 2 and "it takes no --country" in study_level.stderr


def test_an_evidence_pack_verifies_on_its_own_and_a_changed_byte_does_not(kpi_build, tmp_path):
    pack = tmp_path / "pack"
    written = cg_evidence(kpi_build, "kpi_site_payment_status", "--study", "ST-1", "--country", "FR", "--pack", str(pack))
    assert written.returncode == 0, written.stderr[-2000:]
    manifest = json.loads((pack / "manifest.json").read_text())
    # Re-hashed here, independently of the CLI: every file is as its manifest says.
    assert {entry["path"]: sha256_of(pack / entry["path"]) for entry in manifest["files"]} == {
        entry["path"]: entry["sha256"] for entry in manifest["files"]
    }
    # P1..P5 came in the three site payment deliveries (1, 8 and 29 Jun), copied byte for byte.
    delivered = sorted(entry["path"].rsplit("-", 1)[-1] for entry in manifest["files"] if "delivery_id" in entry)
    assert delivered == [f"site_payments__2026{day}T030000Z.csv" for day in ("0601", "0608", "0629")]
    for entry in manifest["files"]:
        if "delivery_id" in entry:
            assert (pack / entry["path"]).read_bytes() == (KPI_FIXTURE / "cro-acme" / entry["path"].rsplit("-", 1)[-1]).read_bytes()
    with (pack / "records.csv").open(newline="") as stream:
        assert sorted(row["payment_id"] for row in csv.DictReader(stream)) == ["P1", "P2", "P3", "P4", "P5"]
    assert manifest["kpi_rows_sha256"] == printed_hash(written.stdout)

    verified = cg_evidence(kpi_build, "verify", str(pack))
    assert verified.returncode == 0, verified.stderr
    copy = pack / next(entry["path"] for entry in manifest["files"] if "delivery_id" in entry)
    copy.write_bytes(copy.read_bytes().replace(b"300.00", b"310.00", 1))
    tampered = cg_evidence(kpi_build, "verify", str(pack))
    assert tampered.returncode == 1
    assert f"{copy.relative_to(pack).as_posix()}: SHA-256 {sha256_of(copy)} where the manifest says" in tampered.stderr


# As of a past date ---------------------------------------------------------------------


def test_what_did_we_know_on_5_june_from_the_deliveries_of_1_june(kpi_build):
    # Extracted by 5 Jun: only the deliveries of 1 Jun. Their CTQ visits: PAR RND 10 May
    # (SDV 20 May: 10 days) and LYO RND 4 May, delivered unverified (its SDV of 25 May came
    # on 8 Jun); W04 visits were not delivered yet. As of 5 Jun both are due (visit + 14
    # <= 5 Jun): due 2, within SLA 1 (PAR), 1/2 = 0.5000, median of [10] = 10.0, open and
    # overdue 1 (LYO RND), verified 1.
    live_before = sha256_of(kpi_build.warehouse)
    first = cg_evidence(kpi_build, "kpi_verification_timeliness", "--study", "ST-1", "--as-known-on", "2026-06-05")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "from 14 archived deliveries extracted by 2026-06-05" in first.stderr
    assert printed_section(first.stdout, "KPI:")[1:] == [
        ["shared", "ST-1", "DE", "0", "0", "", "", "0", "0", "14"],
        ["shared", "ST-1", "FR", "2", "1", "0.5000", "10.0", "1", "1", "14"],
        ["shared", "ST-1", "PL", "0", "0", "", "", "0", "0", "14"],
    ]
    second = cg_evidence(kpi_build, "kpi_verification_timeliness", "--study", "ST-1", "--as-known-on", "2026-06-05")
    assert second.returncode == 0, second.stderr[-3000:]
    assert printed_hash(first.stdout) == printed_hash(second.stdout)
    assert sha256_of(kpi_build.warehouse) == live_before  # the live warehouse is only read

    # What do we know now about 5 Jun: every delivery, judged as of 5 Jun. LYO RND's SDV of
    # 25 May is known now (21 days, late); LYO W04 (1 Jun) is counted but not due until
    # 15 Jun; PAR W04 (20 Jun) is after 5 Jun. Due 2, within 1, 0.5000, median of [10, 21]
    # = 15.5, none open and overdue, verified 2.
    now = cg_evidence(kpi_build, "kpi_verification_timeliness", "--study", "ST-1", "--country", "FR", "--as-of", "2026-06-05")
    assert now.returncode == 0, now.stderr[-3000:]
    assert printed_section(now.stdout, "KPI:")[1] == ["shared", "ST-1", "FR", "2", "1", "0.5000", "15.5", "0", "2", "14"]


# No silent change: the change log and the audit trail ------------------------------------


def test_the_change_log_shows_a_moved_milestone_a_renamed_site_and_removed_rows(changed_build):
    with connect(changed_build.warehouse, read_only=True) as con:
        changes = con.execute(
            "select feed, record_key, change_type, column_name, old_value, new_value, previous_file_name, file_name "
            "from marts.snapshot_changes order by feed, record_key, change_type, column_name"
        ).fetchall()
        (seen,) = con.execute("select count(*) from marts.snapshot_changes where seen_at is null or extract_at is null").fetchone()
    milestones = ("milestones__20260601T020000Z.csv", "milestones__20260615T020000Z.csv")
    sites = ("sites__20260601T030000Z.csv", "sites__20260615T030000Z.csv")
    rate_cards = ("rate_card__20260601T030000Z.csv", "rate_card__20260615T030000Z.csv")
    assert changes == [
        ("milestones", "study_id=ST-1; country=DE; site_number=0201; milestone=SITE_READY", "row_removed", None,
         "planned_date=2026-04-15; actual_date=; updated_at=2026-04-01T09:00:00Z", None, *milestones),
        ("milestones", "study_id=ST-1; country=FR; site_number=0102; milestone=SITE_READY", "value_changed", "actual_date",
         "2026-04-20", "2026-04-22", *milestones),
        ("milestones", "study_id=ST-1; country=FR; site_number=0102; milestone=SITE_READY", "value_changed", "updated_at",
         "2026-04-20T09:00:00Z", "2026-06-12T09:00:00Z", *milestones),
        ("rate_card", "RateCode=A-MON-OSV-PL", "row_added", None, None,
         "Description=On-site monitoring visit (Poland); Unit=visit; UnitPrice=1150.00; Currency=EUR; ValidFrom=01-Jun-2026; "
         "ValidTo=; ExceptionRef=EXC-0007", *rate_cards),
        ("sites", "CroStudyRef=ACM-0001; SiteCode=DE-BER-01", "row_removed", None,
         "SponsorSiteNo=0201; Country=Germany; Status=Selected", None, *sites),
        ("sites", "CroStudyRef=ACM-0001; SiteCode=DE-MUC-01", "row_added", None, None,
         "SponsorSiteNo=0201; Country=Germany; Status=Selected", *sites),
    ]
    assert seen == 0


def test_the_audit_trail_holds_corrections_voids_mappings_exceptions_and_snapshot_changes(changed_build):
    with connect(changed_build.warehouse, read_only=True) as con:
        kinds = dict(con.execute("select change_kind, count(*) from marts.audit_trail group by all").fetchall())
        events = con.execute(
            "select change_kind, record_key, change, old_value, new_value from marts.audit_trail "
            "where change_kind like 'event_%' order by record_key"
        ).fetchall()
        exception = con.execute(
            "select record_key, change, old_value, new_value, change_ref from marts.audit_trail where change_kind = 'rate_card_exception'"
        ).fetchall()
        mapping = con.execute(
            "select change, new_value, change_ref from marts.audit_trail where change_kind = 'mapping_change' "
            "and feed = 'map_cro_rate_codes' and record_key like '%rate_code=A-MON-OSV-PL;%'"
        ).fetchall()
    # Every row of every mapping seed, with its change_ref and validity.
    seed_rows = sum(len(path.read_text().splitlines()) - 1 for path in (PROJECT_ROOT / "dbt_project" / "seeds" / "mappings").glob("*.csv"))
    assert kinds == {"snapshot_change": 6, "event_correction": 1, "event_void": 1, "mapping_change": seed_rows, "rate_card_exception": 1}
    # The README's corrections: FR-PAR-01's SIV E-003 (10 Apr) corrected to 5 Apr by E-005;
    # Germany's SIV E-008 voided by E-009.
    assert [(kind, key, change) for kind, key, change, _, _ in events] == [
        ("event_correction", "event_id=E-003", "corrected by E-005"),
        ("event_void", "event_id=E-008", "voided by E-009"),
    ]
    assert events[0][3].startswith("type=SITE_SIV; at=2026-04-10") and events[0][4].startswith("type=SITE_SIV; at=2026-04-05")
    assert exception == [(
        "RateCode=A-MON-OSV-PL", "exception EXC-0007 to the standard rate of A-MON-OSV", "A-MON-OSV=1000.00 EUR",
        "A-MON-OSV-PL=1150.00 EUR; used by 1 accruals, 2300.00 EUR", "EXC-0007",
    )]
    assert mapping == [("in force", "valid_from=2000-01-01; valid_to=", "GOV-0001 initial dictionary")]


def test_the_audit_trail_names_every_mapping_seed():
    model = (PROJECT_ROOT / "dbt_project" / "models" / "marts" / "governance" / "audit_trail.sql").read_text()
    listed = re.search(r"set mapping_seeds = \[(.*?)\]", model, re.DOTALL)[1]
    assert sorted(re.findall(r"'(map_\w+)'", listed)) == sorted(
        path.stem for path in (PROJECT_ROOT / "dbt_project" / "seeds" / "mappings").glob("*.csv")
    )


def test_the_snapshot_sources_declare_the_contract_s_keys():
    sources = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "staging" / "_raw__sources.yml").read_text())
    (raw,) = [source for source in sources["sources"] if source["name"] == "raw"]
    declared = {table["name"]: table.get("config", {}).get("meta", {}).get("snapshot_key") for table in raw["tables"]}
    contract = load_contract()
    assert {f"{feed.side}__{feed.name}": list(feed.key) if feed.kind == "snapshot" else None for feed in contract.feeds} == declared

# The start-up, readiness, close-out and event-to-payable evidence, worked out by hand on
# the KPI fixture (tests/fixtures/kpi/README.md) and the study operations fixture
# (tests/fixtures/operations/README.md) ------------------------------------------------


@pytest.fixture(scope="module")
def kpi_warehouse(kpi_build):
    return kpi_build.warehouse


@pytest.fixture(scope="module")
def operations_warehouse(operations_build):
    return operations_build.warehouse


def rows(warehouse, sql):
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


OPERATIONS_EVIDENCE = {
    "evidence_study_startup": "kpi_study_startup", "evidence_country_startup": "kpi_country_startup",
    "evidence_site_readiness": "kpi_site_readiness", "evidence_country_readiness": "kpi_country_readiness",
    "evidence_closeout": "kpi_closeout", "evidence_event_to_payable": "kpi_event_to_payable",
    "evidence_milestone_discrepancies": "rpt_milestone_discrepancies",
}


@pytest.mark.parametrize("model", sorted(OPERATIONS_EVIDENCE))
def test_every_column_of_the_mart_is_a_measure_or_says_why_not(model):
    # Besides the row key and the `perspective` label, each mart column is a declared
    # measure, or is listed in `not_reproduced` with why.
    nodes = model_nodes()
    kpi = OPERATIONS_EVIDENCE[model]
    declared = nodes[model]["config"]["meta"]["evidence"]
    assert declared["kpi"] == kpi
    covered = {*declared["key"], "perspective", *declared["measures"], *declared.get("not_reproduced", {})}
    assert set(nodes[kpi]["columns"]) - covered == set()
    assert all(reason for reason in declared.get("not_reproduced", {}).values())


def test_study_startup_evidence_shows_the_corrected_siv_and_the_later_records(kpi_warehouse):
    # FR-PAR-01's SIV E-003 (10 Apr) corrected to 5 Apr by E-005 (delivery of 8 Jun, its
    # 2nd record): that record sets the CRO's first site ready. The sponsor's country ready
    # is 2 Mar, a day after the CRO's 1 Mar; Germany's 10 Mar only counts a country ready.
    assert rows(kpi_warehouse, "select perspective, country_code, site_number, milestone_code, milestone_date, sets, file_name, row_number "
                               "from marts.evidence_study_startup where milestone_code in ('SITE_READY', 'COUNTRY_READY') "
                               "order by perspective desc, milestone_code, country_code, site_number") == [
        ("sponsor", "DE", None, "COUNTRY_READY", date(2026, 3, 10), "countries_ready (DE)", "milestones__20260601T020000Z.csv", 3),
        ("sponsor", "FR", None, "COUNTRY_READY", date(2026, 3, 2), "first_country_ready_date; countries_ready (FR)",
         "milestones__20260601T020000Z.csv", 2),
        ("sponsor", "FR", "0101", "SITE_READY", date(2026, 4, 5), "first_site_ready_date; sites_ready (0101)",
         "milestones__20260601T020000Z.csv", 4),
        ("sponsor", "FR", "0102", "SITE_READY", date(2026, 4, 20), "sites_ready (0102)", "milestones__20260601T020000Z.csv", 5),
        ("cro", "DE", None, "COUNTRY_READY", date(2026, 3, 10), "countries_ready (DE)", "events__20260601T030000Z.jsonl", 4),
        ("cro", "FR", None, "COUNTRY_READY", date(2026, 3, 1), "first_country_ready_date; countries_ready (FR)",
         "events__20260601T030000Z.jsonl", 2),
        ("cro", "FR", "0101", "SITE_READY", date(2026, 4, 5), "first_site_ready_date; sites_ready (0101)",
         "events__20260608T030000Z.jsonl", 2),
        ("cro", "FR", "0102", "SITE_READY", date(2026, 4, 20), "sites_ready (0102)", "events__20260601T030000Z.jsonl", 1),
    ]


def test_event_to_payable_evidence_of_france_hand_checked(kpi_warehouse):
    # Payable visits (kpi_marts' test_event_to_payable): PAR SCR SDV 8 May, payable 12 May (4 d),
    # paid 30 May (18 d; 22 d after SDV: within 30); PAR RND SDV 20 May, 22 May (2 d), paid 28 Jun
    # (37 d; 39 after SDV: late); LYO SCR 5 May -> 9 May (4 d), unpaid; LYO RND 25 -> 27 May (2 d),
    # held. All four due (SDV + 30 <= 30 Jun). The W04 visits are not verified: not eligible,
    # nor is P5, the payment of PAR W04.
    assert rows(kpi_warehouse, "select record_kind, site_number, visit_code, payment_id, days_eligible_to_payable, days_payable_to_paid, "
                               "is_counted, is_due, is_paid_within_sla, exclusion_reason from marts.evidence_event_to_payable "
                               "where country_code = 'FR' order by record_kind desc, site_number, visit_code") == [
        ("visit", "0101", "RND", None, 2, 37, True, True, False, None),
        ("visit", "0101", "SCR", None, 4, 18, True, True, True, None),
        ("visit", "0101", "W04", None, None, None, False, False, False, "not_eligible: not verified (no SDV) by the as-of date"),
        ("visit", "0102", "RND", None, 2, None, True, True, False, None),
        ("visit", "0102", "SCR", None, 4, None, True, True, False, None),
        ("visit", "0102", "W04", None, None, None, False, False, False, "not_eligible: not verified (no SDV) by the as-of date"),
        ("site_payment", "0101", "RND", "P2", None, None, True, False, False, None),
        ("site_payment", "0101", "SCR", "P1", None, None, True, False, False, None),
        ("site_payment", "0101", "W04", "P5", None, None, False, False, False,
         "visit_not_eligible: its visit is not verified (no SDV) by the as-of date"),
        ("site_payment", "0102", "RND", "P4", None, None, True, False, False, None),
        ("site_payment", "0102", "SCR", "P3", None, None, True, False, False, None),
    ]


def test_closeout_evidence_sets_the_cro_lpi_from_the_last_randomization_before_db_lock(operations_warehouse):
    # ST-B CRO: first close-out event DB lock 15 Apr; GB-002 randomized 20 Jan is the last on
    # or before it (the CRO's LPI); GB-001 (10 Oct 2025) is earlier; GB-003 (1 May) is after.
    # ST-A is still enrolling: no close-out event, so its randomization sets nothing.
    assert rows(operations_warehouse, "select study_id, subject_id, milestone_date, sets, exclusion_reason, file_name, row_number "
                                      "from marts.evidence_closeout where record_kind = 'randomization' order by study_id, subject_id") == [
        ("ST-A", "FR-PAR-01-001", date(2026, 5, 19), None,
         "no_closeout_yet: the CRO LPI is the last randomization on or before the first close-out event of the study, and it has none",
         "events__20260601T030000Z.jsonl", 4),
        ("ST-B", "GB-001", date(2025, 10, 10), None,
         "not_last: the last randomization on or before the first close-out event is on 2026-01-20", "events__20260515T030000Z.jsonl", 15),
        ("ST-B", "GB-002", date(2026, 1, 20), "lpi_date", None, "events__20260515T030000Z.jsonl", 17),
        ("ST-B", "GB-003", date(2026, 5, 1), None,
         "after_first_closeout: randomized after the first close-out event of the study, on 2026-04-15", "events__20260515T030000Z.jsonl", 20),
    ]


def test_site_readiness_evidence_of_the_cro_hand_checked(operations_warehouse):
    # CRO, ST-A: 0101 READY since its SIV of 15 May, three items (SYS voided by E-06 is gone);
    # 0102 IN_PROGRESS since SELECTED on 1 Mar; 0201 has no item (E-41 held): PLANNED since the
    # protocol final of 10 Jan, the one site whose state that record dates.
    assert rows(operations_warehouse, "select site_code, milestone_code, pack_state, sets from marts.evidence_site_readiness "
                                      "where perspective = 'cro' and study_id = 'ST-A' order by site_code, milestone_code") == [
        ("0101", "PROTOCOL_FINAL", "READY", None),
        ("0101", "SITE_CONTRACT_SIGNED", "READY", "contract_signed_date; pack_items_done"),
        ("0101", "SITE_IRB_APPROVED", "READY", "irb_approved_date; pack_items_done"),
        ("0101", "SITE_READY", "READY", "site_ready_date; state_entered_date"),
        ("0101", "SITE_SELECTED", "READY", "selected_date; pack_items_done"),
        ("0102", "PROTOCOL_FINAL", "IN_PROGRESS", None),
        ("0102", "SITE_IRB_APPROVED", "IN_PROGRESS", "irb_approved_date; pack_items_done"),
        ("0102", "SITE_SELECTED", "IN_PROGRESS", "selected_date; pack_items_done; state_entered_date"),
        ("0201", "PROTOCOL_FINAL", "PLANNED", "state_entered_date"),
    ]
