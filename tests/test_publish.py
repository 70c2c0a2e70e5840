"""The published views, through the real pipeline on the generator's tiny portfolio
(CG-1001 run by acme, CG-1002 by zenith): one DuckDB file and one Parquet folder per
audience, readable by a DuckDB 1.x client, swapped in while a reader in another process
keeps the previous build open."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.warehouse import connect

from conftest import run_pipeline, settings_for, write_tiny_portfolio

DUCKDB_1X = "1.1.3"
LAST_WEEK = "20261116T"  # held back for the second run
AUDIENCES = ["cro-acme", "cro-zenith", "governance", "sponsor"]
SPONSOR_TABLES = [
    "_published", "dim_cost_bucket", "dim_country", "dim_site", "dim_study", "dim_subject", "dim_visit_type",
    "evidence_accrual_coverage", "evidence_budget_burn", "evidence_closeout", "evidence_country_readiness",
    "evidence_country_startup", "evidence_data_quality", "evidence_deviations", "evidence_enrollment_vs_plan",
    "evidence_event_to_payable", "evidence_forecast_accuracy", "evidence_milestone_discrepancies", "evidence_risks",
    "evidence_site_payment_status", "evidence_site_readiness", "evidence_study_startup",
    "evidence_verification_timeliness", "fct_accruals",
    "fct_country_plan", "fct_deviations", "fct_enrollment_plan", "fct_forecast", "fct_invoices", "fct_milestone_events",
    "fct_risks", "fct_site_packs", "fct_site_payments", "fct_subject_visits",
    "kpi_accrual_coverage", "kpi_budget_burn", "kpi_closeout", "kpi_country_readiness", "kpi_country_startup",
    "kpi_data_quality", "kpi_deviations", "kpi_enrollment_vs_plan", "kpi_event_to_payable", "kpi_forecast_accuracy",
    "kpi_risks", "kpi_site_payment_status", "kpi_site_readiness", "kpi_study_startup", "kpi_verification_timeliness",
    "rpt_milestone_discrepancies",
]

# A BI reader: one connection to a published database, kept open, polled until told to
# stop; every poll checks each table against the hash its build recorded.
READER = """
import json, os, sys, time
import duckdb
path, stop = sys.argv[1], sys.argv[2]
con = duckdb.connect(path, read_only=True)
def build_id():
    return con.execute("select distinct build_id from _published").fetchall()
print(json.dumps(build_id()), flush=True)
seen, mismatches, errors, polls = set(), [], [], 0
while not os.path.exists(stop):
    try:
        seen.update(row[0] for row in build_id())
        for name, rows, rows_hash in con.execute(
            "select name, row_count, rows_hash from _published where item = 'table' order by name"
        ).fetchall():
            found = con.execute(f'select count(*), coalesce(sum(hash(t)), 0)::varchar from "{name}" as t').fetchall()[0]
            if found != (rows, rows_hash):
                mismatches.append(name)
        polls += 1
    except Exception as error:
        errors.append(str(error))
    time.sleep(0.2)
print(json.dumps({"build_ids": sorted(seen), "mismatches": mismatches, "errors": errors, "polls": polls}), flush=True)
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("publish")
    write_tiny_portfolio(root / "generated")
    landing, held_back = root / "landing", root / "held_back"
    for path in sorted((root / "generated").rglob("*__*")):
        target = (held_back if LAST_WEEK in path.name else landing) / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    settings = settings_for(root, landing)
    result = run_pipeline(settings)
    assert result.success
    return settings, result, held_back


@pytest.fixture(scope="session")
def duckdb_1x(tmp_path_factory) -> Path:
    """DuckDB 1.1.3 in a folder of its own, for a subprocess that sees only it."""
    target = tmp_path_factory.mktemp("duckdb_1x")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target), f"duckdb=={DUCKDB_1X}"],
        check=True,
    )
    return target


def published_record(path: Path, item: str = "table") -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select name, row_count, rows_hash, last_delivery from _published where item = ? order by name", [item]
        ).fetchall()


def test_each_audience_gets_a_database_and_a_parquet_folder(published):
    settings, _, _ = published
    entries = sorted(path.name for path in settings.publish_dir.iterdir())
    assert entries == sorted([*AUDIENCES, *(f"{name}.duckdb" for name in AUDIENCES), "builds"])
    for name in AUDIENCES:
        assert (settings.publish_dir / name).is_symlink()
        assert (settings.publish_dir / name / f"{name}.duckdb").samefile(settings.publish_dir / f"{name}.duckdb")
    with duckdb.connect(str(settings.publish_dir / "sponsor.duckdb"), read_only=True) as con:
        assert [row[0] for row in con.execute("select table_name from information_schema.tables order by 1").fetchall()] == SPONSOR_TABLES
    assert sorted(path.stem for path in (settings.publish_dir / "sponsor").glob("*.parquet")) == SPONSOR_TABLES
    with duckdb.connect(str(settings.publish_dir / "governance.duckdb"), read_only=True) as con:
        assert [row[0] for row in con.execute("select table_name from information_schema.tables order by 1").fetchall()] == [
            "_published", "audit_trail", "evidence_data_quality", "evidence_milestone_discrepancies", "held_deliveries", "kpi_data_quality",
            "mapping_gaps", "quarantined_rows",
            "rpt_milestone_discrepancies", "snapshot_changes", "source_freshness",
        ]


def test_the_published_record_names_the_run_the_as_of_date_and_each_source_s_last_delivery(published):
    settings, result, _ = published
    with duckdb.connect(str(settings.publish_dir / "cro-acme.duckdb"), read_only=True) as con:
        header = con.execute("select distinct audience, run_id, cast(as_of_date as varchar) from _published").fetchall()
        sources = con.execute(
            "select name, last_delivery, cast(last_extract_at as varchar) from _published where item = 'source' order by name"
        ).fetchall()
    assert header == [("cro-acme", result.run_id, "2026-11-09")]
    assert sources == [
        ("cro-acme", "visits__20261109T030000Z.csv", "2026-11-09 03:00:00"),
        ("sponsor", "invoices__20261109T020000Z.csv", "2026-11-09 02:00:00"),  # the later snapshots repeat earlier bytes
    ]


def test_each_table_s_recorded_rows_and_hash_match_its_database_and_parquet_contents(published):
    settings, _, _ = published
    recorded = published_record(settings.publish_dir / "sponsor.duckdb")
    assert len(recorded) == len(SPONSOR_TABLES) - 1
    with duckdb.connect(str(settings.publish_dir / "sponsor.duckdb"), read_only=True) as con:
        for name, rows, rows_hash, _ in recorded:
            in_database = con.execute(f'select count(*), coalesce(sum(hash(t)), 0)::varchar from "{name}" as t').fetchall()[0]
            parquet = settings.publish_dir / "sponsor" / f"{name}.parquet"
            in_parquet = con.execute(f"select count(*), coalesce(sum(hash(t)), 0)::varchar from read_parquet('{parquet}') as t").fetchall()[0]
            assert in_database == in_parquet == (rows, rows_hash), name
    assert dict((name, rows) for name, rows, _, _ in recorded)["dim_study"] == 2


def test_a_duckdb_1x_client_opens_every_published_database(published, duckdb_1x):
    settings, _, _ = published
    paths = [str(settings.publish_dir / f"{name}.duckdb") for name in AUDIENCES]
    script = (
        "import json, sys, duckdb\n"
        "counts = {}\n"
        "for path in sys.argv[1:]:\n"
        "    con = duckdb.connect(path, read_only=True)\n"
        "    names = [r[0] for r in con.execute(\"select name from _published where item = 'table' order by name\").fetchall()]\n"
        "    counts[path] = {name: con.execute(f'select count(*) from \"{name}\"').fetchall()[0][0] for name in names}\n"
        "print(json.dumps({'version': duckdb.__version__, 'counts': counts}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(duckdb_1x)}
    # -S: no site-packages, so the only DuckDB it can import is the 1.x one
    done = subprocess.run([sys.executable, "-S", "-c", script, *paths], env=env, capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    assert seen["version"] == DUCKDB_1X
    assert seen["counts"] == {
        path: {name: rows for name, rows, _, _ in published_record(Path(path))} for path in paths
    }


def test_a_lock_on_the_working_warehouse_names_the_reader_that_holds_it(published):
    settings, _, _ = published
    reader = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(settings.warehouse)!r}, read_only=True); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline() == "open\n"
        with pytest.raises(RuntimeError) as raised:
            connect(settings.warehouse)
    finally:
        reader.communicate("")
    assert str(raised.value) == (
        f"the warehouse {settings.warehouse} is open read-only in process {reader.pid} (python), and DuckDB lets no "
        "process write a file that another one has open, even read-only. Close it there, then run again. The working "
        "warehouse is the pipeline's alone: BI tools and notebooks read the published files in CG_PUBLISH_DIR "
        "(data/published/ by default; README, 'Reading the data')."
    )


def test_a_reader_holding_a_published_database_through_a_run_sees_one_whole_build_and_blocks_nothing(published, tmp_path):
    settings, first, held_back = published
    (first_build,) = {row[0] for row in duckdb.connect(str(settings.publish_dir / "sponsor.duckdb"), read_only=True).execute("select build_id from _published").fetchall()}
    expired = settings.publish_dir / "builds" / "sponsor" / "20260101T000000000000Z-expired"
    expired.mkdir()
    eight_days_ago = time.time() - 8 * 86400
    os.utime(expired, (eight_days_ago, eight_days_ago))
    for path in sorted(held_back.rglob("*__*")):
        shutil.copy(path, settings.landing_dir / path.parent.name / path.name)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.publish_dir / "sponsor.duckdb"), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert json.loads(reader.stdout.readline()) == [[first_build]]
        second = run_pipeline(settings)
    finally:
        stop.touch()
        output, errors = reader.communicate(timeout=120)
    assert second.success
    seen = json.loads(output)
    assert (seen["build_ids"], seen["mismatches"], seen["errors"], errors) == ([first_build], [], [], "")
    assert seen["polls"] >= 10
    with duckdb.connect(str(settings.publish_dir / "sponsor.duckdb"), read_only=True) as con:
        assert con.execute("select distinct run_id, cast(as_of_date as varchar) from _published").fetchall() == [
            (second.run_id, "2026-11-16")
        ]
    builds = sorted(path.name for path in (settings.publish_dir / "builds" / "sponsor").iterdir())
    assert len(builds) == 2 and builds[0] == first_build  # the expired build is gone, the previous one kept
    assert first.run_id != second.run_id
