"""The large facts are built incrementally (dbt_project/macros/incremental.sql): a build
conforms only new or changed rows and recomputes only the keys they touch. Whatever the
path, the result must be exactly what one build from scratch gives: week by week, after
a mapping is retired, and when the as-of date changes and changes back."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestration.contract import load_contract
from orchestration.ingest.loader import ensure_warehouse, ingest_feed
from orchestration.settings import DBT_EXECUTABLE
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for, write_delivery

KPI_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"
FIRST_WEEK = "20260608"  # deliveries extracted up to this day arrive first
INCREMENTAL = [
    "int_cro__visits__checked", "int_cro__visits", "int_cro__site_payments__checked", "int_cro__site_payments",
    "int_cro__events__checked", "int_cro__events_effective", "int_cro__accruals__checked", "int_cro__accruals",
]
# when a row was loaded or built, not what it says; and the governance marts' ages of
# deliveries and when the audit trail saw a change, which are wall-clock times of ingestion
VOLATILE = {
    "_built_at", "_loaded_at", "last_received_at", "last_loaded_at", "oldest_held_at", "hours_since_received",
    "hours_since_loaded", "hours_oldest_held", "is_stale", "held_at", "left_at", "days_held", "seen_at",
}


def copy_project(root: Path) -> Path:
    copy = root / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    return copy


def deliver(root: Path, files: list[Path]) -> Path:
    """The files arrive in the landing folder and are ingested; returns the warehouse."""
    contract = load_contract()
    for path in files:
        write_delivery(root / "landing", path.parent.name, path.name, path.read_bytes())
    warehouse = root / "warehouse.duckdb"
    with connect(warehouse) as con:
        ensure_warehouse(con, contract)
        for feed in contract.feeds:
            ingest_feed(con, contract, feed, root / "landing", root / "archive", root / "quality_docs")
    return warehouse


def build(project: Path, warehouse: Path, as_of: str = "") -> None:
    """Seeds and models (the tests run elsewhere): what an incremental build changes."""
    result = subprocess.run(
        [DBT_EXECUTABLE, "build", "--exclude", "resource_type:test", "--project-dir", str(project), "--profiles-dir", str(project)],
        env={**os.environ, "CG_WAREHOUSE": str(warehouse), "CG_AS_OF": as_of}, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def state(warehouse: Path) -> dict[str, list]:
    """Every mart and incremental model, row for row, without build times."""
    with connect(warehouse, read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for schema, table, column in con.execute(
            """
            select table_schema, table_name, column_name from information_schema.columns
            where table_schema = 'marts' or (table_schema = 'intermediate' and table_name in (select unnest(?)))
            order by table_schema, table_name, ordinal_position
            """,
            [INCREMENTAL],
        ).fetchall():
            if column not in VOLATILE:
                columns.setdefault(f"{schema}.{table}", []).append(f'"{column}"')
        return {table: con.execute(f"select {', '.join(names)} from {table} order by all").fetchall() for table, names in columns.items()}


def fixture_files(first_week: bool) -> list[Path]:
    return [path for path in sorted(KPI_FIXTURE.glob("*/*__*")) if (path.name.split("__")[1][:8] <= FIRST_WEEK) == first_week]


@pytest.fixture(scope="module")
def from_scratch(tmp_path_factory) -> Path:
    """Every delivery, built once."""
    root = tmp_path_factory.mktemp("scratch")
    warehouse = deliver(root, fixture_files(True) + fixture_files(False))
    build(copy_project(root), warehouse)
    return warehouse


def test_week_by_week_builds_give_what_one_build_gives_and_keep_earlier_rows(tmp_path, from_scratch):
    project = copy_project(tmp_path)
    build(project, deliver(tmp_path, fixture_files(True)))
    warehouse = deliver(tmp_path, fixture_files(False))
    build(project, warehouse)

    assert state(warehouse) == state(from_scratch)
    with connect(warehouse, read_only=True) as con:
        builds = con.execute(
            "select count(distinct _built_at), count(*) filter (where _file_name like '%20260601T%') "
            "from intermediate.int_cro__visits__checked"
        ).fetchall()
        first_week_rewritten = con.execute(
            "select count(*) from intermediate.int_cro__visits__checked where _file_name like '%20260601T%' "
            "and _built_at = (select max(_built_at) from intermediate.int_cro__visits__checked)"
        ).fetchall()
    assert builds[0][0] == 2 and builds[0][1] > 0
    assert first_week_rewritten == [(0,)]  # rows conformed in the first build were not written again


def test_a_retired_mapping_holds_conformed_rows_as_a_build_from_scratch_would(tmp_path):
    project = copy_project(tmp_path / "incremental")
    warehouse = deliver(tmp_path / "incremental", fixture_files(True) + fixture_files(False))
    build(project, warehouse)
    retire_acme_screening(project)
    build(project, warehouse)

    fresh_project = copy_project(tmp_path / "fresh")
    retire_acme_screening(fresh_project)
    fresh = deliver(tmp_path / "fresh", fixture_files(True) + fixture_files(False))
    build(fresh_project, fresh)

    assert state(warehouse) == state(fresh)
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from intermediate.int_cro__visits where cro_visit_code = 'SCRN'").fetchall() == [(0,)]
        held = con.execute("select count(*) from marts.quarantined_rows where rule = 'unmapped_visit_code'").fetchall()[0][0]
    assert held > 0


def retire_acme_screening(project: Path) -> None:
    seed = project / "seeds" / "mappings" / "map_cro_visit_codes.csv"
    seed.write_text(seed.read_text().replace("acme,*,SCRN,SCR,2000-01-01,,", "acme,*,SCRN,SCR,2000-01-01,2000-01-02,"))


def test_changing_the_as_of_date_and_back_rebuilds_what_depends_on_it(tmp_path, from_scratch):
    project = copy_project(tmp_path / "incremental")
    warehouse = deliver(tmp_path / "incremental", fixture_files(True) + fixture_files(False))
    build(project, warehouse)
    build(project, warehouse, as_of="2026-06-05")
    as_of_past = state(warehouse)
    build(project, warehouse)

    fresh = deliver(tmp_path / "fresh", fixture_files(True) + fixture_files(False))
    build(copy_project(tmp_path / "fresh"), fresh, as_of="2026-06-05")
    assert as_of_past == state(fresh)
    assert state(warehouse) == state(from_scratch)


def test_the_gate_of_an_incremental_fact_validates_the_rows_built_since_it_last_passed(tmp_path):
    landing = tmp_path / "landing"
    settings = settings_for(tmp_path, landing)

    def build_week(files: list[Path]) -> dict[str, int]:
        for path in files:
            write_delivery(landing, path.parent.name, path.name, path.read_bytes())
        result = run_pipeline(settings)
        assert result.success
        return {
            check.asset_key.to_user_string(): check.metadata["rows_validated"].value
            for check in result.get_asset_check_evaluations() if check.check_name == "conformed_gate"
        }

    first = build_week(fixture_files(True))
    with connect(settings.warehouse, read_only=True) as con:
        visits_after_first_week = con.execute("select count(*) from marts.fct_subject_visits").fetchall()[0][0]
    second = build_week(fixture_files(False))

    with connect(settings.warehouse, read_only=True) as con:
        (total, rebuilt), = con.execute(
            "select count(*), count(*) filter (where _built_at = (select max(_built_at) from marts.fct_subject_visits)) "
            "from marts.fct_subject_visits"
        ).fetchall()
    assert first["marts/fct_subject_visits"] == visits_after_first_week
    assert second["marts/fct_subject_visits"] == rebuilt < total  # not the first week's rows again
