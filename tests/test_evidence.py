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
from pathlib import Path

import pytest
import yaml

from cg_evidence import query
from cg_evidence.declarations import evidence_models
from orchestration.contract import load_contract
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for

KPI_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"
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


@pytest.mark.parametrize("kpi", sorted(EVIDENCE))
def test_the_evidence_rows_aggregated_by_the_mart_s_definition_are_the_kpi(kpi_build, kpi):
    evidence = EVIDENCE[kpi]
    measures = [column for column, _ in evidence.measures]
    with connect(kpi_build.warehouse, read_only=True) as con:
        from_evidence = query.evidence_counts(con, evidence)
        mart = query.fetch(
            con, f"select {', '.join([*evidence.key, *measures])} from {evidence.kpi_relation} order by {', '.join(evidence.key)}", [],
        )
        (records,) = con.execute(f"select count(*) from {evidence.relation}").fetchone()
    assert records > 0 and len(mart.rows) > 0
    assert from_evidence.columns == mart.columns
    assert from_evidence.rows == mart.rows


def test_the_evidence_models_on_the_fixture_are_the_ones_declared():
    # One declaration per evidence model (meta `evidence` in _evidence.yml) drives the test above.
    assert sorted(EVIDENCE) == [
        "kpi_accrual_coverage", "kpi_closeout", "kpi_country_readiness", "kpi_country_startup", "kpi_event_to_payable",
        "kpi_site_payment_status", "kpi_site_readiness", "kpi_study_startup", "kpi_verification_timeliness",
        "rpt_milestone_discrepancies",
    ]


@pytest.mark.parametrize("kpi", sorted(EVIDENCE))
def test_every_evidence_row_s_file_is_an_archived_delivery_with_that_hash(kpi_build, kpi):
    evidence = EVIDENCE[kpi]
    with connect(kpi_build.warehouse, read_only=True) as con:
        files = con.execute(
            f"select distinct source, file_name, file_sha256 from {evidence.relation} order by all"
        ).fetchall()
    assert files and all(sha256 for _, _, sha256 in files)
    for source, file_name, sha256 in files:
        archived = kpi_build.archive_dir / source / f"{sha256[:16]}-{file_name}"
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
    assert ("KPI marts with evidence: kpi_accrual_coverage, kpi_closeout, kpi_country_readiness, kpi_country_startup, "
            "kpi_event_to_payable, kpi_site_payment_status, kpi_site_readiness, kpi_study_startup, kpi_verification_timeliness, "
            "rpt_milestone_discrepancies") in unknown.stderr
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
    sources = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "staging" / "_sources.yml").read_text())
    (raw,) = [source for source in sources["sources"] if source["name"] == "raw"]
    declared = {table["name"]: table.get("config", {}).get("meta", {}).get("snapshot_key") for table in raw["tables"]}
    contract = load_contract()
    assert {f"{feed.side}__{feed.name}": list(feed.key) if feed.kind == "snapshot" else None for feed in contract.feeds} == declared
