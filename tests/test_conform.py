"""The conformed layer on a hand-made fixture (tests/fixtures/conform/README.md): exact
quarantine reasons, conservation, corrections and voids, and a mapping added by the
governance forum letting held rows flow through on the next build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from orchestration.contract import load_contract
from orchestration.ingest.loader import ensure_warehouse, ingest_feed
from orchestration.settings import DBT_EXECUTABLE
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "conform"


def dbt_build(project_dir: Path, warehouse: Path) -> None:
    env = {**os.environ, "CG_WAREHOUSE": str(warehouse), "CG_AS_OF": "2026-06-30"}
    result = subprocess.run(
        [DBT_EXECUTABLE, "build", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)],
        env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def copy_project(root: Path) -> Path:
    """A copy of the dbt project, so a test may change its seeds."""
    copy = root / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    return copy


def ingest_fixture(root: Path) -> Path:
    path = root / "warehouse.duckdb"
    contract = load_contract()
    with connect(path) as con:
        ensure_warehouse(con, contract)
        for feed in contract.feeds:
            ingest_feed(con, contract, feed, FIXTURE, root / "archive", root / "quality_docs")
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("conform")
    path = ingest_fixture(root)
    dbt_build(copy_project(root), path)
    return path


def query(warehouse: Path, sql: str):
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_unconformable_rows_are_held_with_a_specific_reason(warehouse):
    assert query(warehouse, "select feed, row_number, reason from marts.quarantined_rows order by feed, row_number") == [
        ("sites", 2, "unmapped_country: 'Untied States'"),
        ("visits", 3, "unmapped_visit_code: 'UNSCHED'"),
        ("visits", 4, "unknown_site: 'XX-NOP-99'"),
        ("visits", 5, "invalid_format: VisitDate='03/11/2026' is not a date as DD-MMM-YYYY (e.g. 03-Nov-2026)"),  # at ingest
    ]
    assert query(warehouse, "select source, feed, code_kind, code_value, rows_held, first_delivery from marts.mapping_gaps order by feed, code_kind") == [
        ("cro-acme", "sites", "unmapped_country", "Untied States", 1, "sites__20260601T030000Z.csv"),
        ("cro-acme", "visits", "unknown_site", "XX-NOP-99", 1, "visits__20260601T030000Z.csv"),
        ("cro-acme", "visits", "unmapped_visit_code", "UNSCHED", 1, "visits__20260601T030000Z.csv"),
    ]


def test_every_raw_row_is_conformed_or_held(warehouse):
    for feed in load_contract().feeds:
        raw, = query(warehouse, f"select count(*) from raw.{feed.table}")[0]
        conformed, held = query(
            warehouse,
            f"select count(*) filter (where _quarantine_rule is null), count(*) filter (where _quarantine_rule is not null) "
            f"from intermediate.int_{feed.side}__{feed.name}__checked",
        )[0]
        assert raw == conformed + held, feed.table
    assert query(warehouse, "select count(*) from intermediate.int_cro__visits__checked where _quarantine_rule is null") == [(2,)]


def test_visits_carry_protocol_codes_and_schedule_flags(warehouse):
    assert query(
        warehouse,
        "select study_id, country_code, site_number, subject_id, visit_code, finance_state_code, visit_date, sdv_date, is_ctq "
        "from marts.fct_subject_visits order by visit_date",
    ) == [
        ("ST-9", "FR", "0101", "FR-NAN-01-001", "SCR", "ELIGIBLE", date(2026, 5, 12), date(2026, 5, 20), False),
        ("ST-9", "FR", "0101", "FR-NAN-01-001", "RND", "NOT_ELIGIBLE", date(2026, 5, 29), None, True),
    ]


def test_a_correction_replaces_and_a_void_cancels(warehouse):
    assert query(
        warehouse,
        "select event_id, cro_event_type, site_number, subject_id, occurred_date from intermediate.int_cro__events_effective order by event_id",
    ) == [
        ("E-2", "SITE_SIV", "0101", None, date(2026, 5, 10)),
        ("E-5", "SUBJ_SCREENED", "0101", "FR-NAN-01-002", date(2026, 5, 21)),
    ]


def test_adding_the_missing_mapping_lets_the_held_rows_through(tmp_path):
    project, warehouse = copy_project(tmp_path), ingest_fixture(tmp_path)
    dbt_build(project, warehouse)
    assert query(warehouse, "select count(*) from marts.dim_site") == [(1,)]

    with (project / "seeds" / "mappings" / "map_country_names.csv").open("a", encoding="utf-8") as seed:
        seed.write("acme,Untied States,US,2026-01-01,,GOV-0042 acme misspells United States\n")
    dbt_build(project, warehouse)

    assert query(warehouse, "select site_number, cro_site_code, country_code from marts.dim_site order by site_number") == [
        ("0101", "FR-NAN-01", "FR"),
        ("0201", "US-BOS-01", "US"),
    ]
    assert query(warehouse, "select count(*) from marts.quarantined_rows where feed = 'sites'") == [(0,)]


CORRECTIONS = [  # delivered a week after the fixture's events (E-4 voids E-3 there)
    ("E-6", "VOID", "FR-NAN-01-001", "E-4"),  # a VOID of the VOID: E-3 stands again
    ("E-7", "SUBJ_SCREENED", "FR-NAN-01-003", "E-7"),  # supersedes itself
    ("E-8", "SUBJ_SCREENED", "FR-NAN-01-004", "E-9"),  # E-8 and E-9 supersede each other
    ("E-9", "SUBJ_SCREENED", "FR-NAN-01-004", "E-8"),
]


def test_a_void_of_a_void_restores_and_looping_corrections_are_held(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE, landing)
    lines = [
        json.dumps({"event_id": event_id, "type": kind, "study": "ACM-0009", "country": "France", "site": "FR-NAN-01",
                    "subject": subject, "at": "2026-06-02T09:00:00+02:00", "recorded_at": "2026-06-02T10:00:00+02:00",
                    "supersedes": supersedes})
        for event_id, kind, subject, supersedes in CORRECTIONS
    ]
    (landing / "cro-acme" / "events__20260608T030000Z.jsonl").write_text("\n".join(lines) + "\n")
    warehouse = tmp_path / "warehouse.duckdb"
    contract = load_contract()
    with connect(warehouse) as con:
        ensure_warehouse(con, contract)
        for feed in contract.feeds:
            ingest_feed(con, contract, feed, landing, tmp_path / "archive", tmp_path / "quality_docs")

    dbt_build(copy_project(tmp_path), warehouse)

    assert query(warehouse, "select event_id from intermediate.int_cro__events_effective order by event_id") == [
        ("E-2",), ("E-3",), ("E-5",),
    ]
    assert query(warehouse, "select row_number, rule, reason from marts.quarantined_rows where feed = 'events' order by row_number") == [
        (2, "supersedes_itself", "supersedes_itself: event 'E-7' names itself in supersedes; send it again with the event it corrects"),
        (3, "supersede_cycle", "supersede_cycle: event 'E-8' is in, or corrects an event in, a loop of events superseding one "
                               "another; send a correction of one event of the loop naming the event it really corrects"),
        (4, "supersede_cycle", "supersede_cycle: event 'E-9' is in, or corrects an event in, a loop of events superseding one "
                               "another; send a correction of one event of the loop naming the event it really corrects"),
    ]


def test_an_amount_too_large_for_the_reporting_currency_is_held_and_dbt_builds(tmp_path):
    """Loaded before the contract capped amounts at a billion: 9999999999999999.99 EUR fits
    decimal(18, 2), its USD value does not."""
    warehouse = ingest_fixture(tmp_path)
    with connect(warehouse) as con:
        con.execute(
            """
            insert into raw.cro__site_payments ("PaymentId", "CroStudyRef", "SiteCode", "SubjectId", "VisitCode", "Amount",
                "Currency", "PayableDate", "Status", "UpdatedAt", _delivery_id, _source, _cro_id, _file_name,
                _file_sha256, _extract_at, _row_number, _loaded_at)
            values ('P1', 'ACM-0009', 'FR-NAN-01', 'FR-NAN-01-001', 'SCRN', '9999999999999999.99', 'EUR', '20-May-2026',
                'PAYABLE', '2026-05-20T10:00:00+02:00', 'cro-acme/site_payments__20260601T030000Z.csv#0123456789ab',
                'cro-acme', 'acme', 'site_payments__20260601T030000Z.csv', repeat('0', 64), '2026-06-01 03:00:00', 1,
                '2026-06-01 04:00:00')
            """
        )

    dbt_build(copy_project(tmp_path), warehouse)

    assert query(warehouse, "select row_number, reason from marts.quarantined_rows where feed = 'site_payments'") == [
        (1, "amount_out_of_range: '9999999999999999.99'"),
    ]
