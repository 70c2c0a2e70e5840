"""End to end through the real `dagster` CLI and a real instance (DAGSTER_HOME in a
temporary folder), on generated portfolios: counts, idempotency, conservation, and the
sponsor and CRO views agreeing where their records agree."""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.contract import load_contract
from workshop.synthetic import PortfolioSpec, generate_portfolio
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT

DAGSTER = str(Path(sys.executable).parent / "dagster")


def materialize_everything(root: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "CG_LANDING_DIR": str(root / "landing"),
        "CG_ARCHIVE_DIR": str(root / "archive"),
        "CG_WAREHOUSE": str(root / "warehouse.duckdb"),
        "CG_QUALITY_DOCS_DIR": str(root / "quality_docs"),
        "CG_AS_OF": "",
    }
    (root / "dagster_home").mkdir(exist_ok=True)
    return subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "orchestration.definitions", "--select", "*"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
    )


def query(root: Path, sql: str):
    with connect(root / "warehouse.duckdb", read_only=True) as con:
        return con.execute(sql).fetchall()


def snapshot_of_tables(root: Path) -> dict[str, list]:
    with connect(root / "warehouse.duckdb", read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('raw', 'audit', 'marts') order by 1"
        ).fetchall()
        return {name: con.execute(f"select * from {name} order by all").fetchall() for (name,) in tables}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    spec = dataclasses.replace(PortfolioSpec.for_size("tiny", seed=11), defect_rate=0.0)
    summary = generate_portfolio(root / "landing", spec)
    result = materialize_everything(root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, summary


def records_in(path: Path) -> int:
    """Data records of a delivery file, counted independently of the loader."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".jsonl":
            return sum(1 for line in handle if line.strip())
        return sum(1 for _ in csv.reader(handle)) - 1


def test_every_delivery_is_recorded_and_every_loaded_record_lands_in_raw(clean_run):
    root, summary = clean_run
    statuses = dict(query(root, "select status, count(*) from audit.delivery_ledger group by status"))
    assert statuses.get("rejected") is None
    assert statuses["loaded"] + statuses["duplicate"] == summary.files
    for feed in load_contract().feeds:
        loaded_files = query(root, f"select source, file_name from audit.delivery_ledger where status = 'loaded' and side = '{feed.side}' and feed = '{feed.name}'")
        expected = sum(records_in(root / "landing" / source / name) for source, name in loaded_files)
        assert query(root, f"select count(*) from raw.{feed.table}") == [(expected,)], feed.table
    # an unchanged weekly snapshot is the same bytes again: recorded, not loaded twice
    assert statuses["duplicate"] > 0


def test_a_clean_portfolio_holds_nothing_back(clean_run):
    root, _ = clean_run
    assert query(root, "select count(*) from marts.quarantined_rows") == [(0,)]


def test_sponsor_and_cro_views_agree_when_their_records_agree(clean_run):
    root, _ = clean_run
    columns = "study_id, country_code, country_ready_date, first_site_ready_date, fpi_date, days_country_ready_to_first_site_ready, days_first_site_ready_to_fpi, sites_ready"
    sponsor = query(root, f"select {columns} from marts.kpi_country_startup where perspective = 'sponsor' order by all")
    cro = query(root, f"select {columns} from marts.kpi_country_startup where perspective = 'cro' order by all")
    assert sponsor == cro
    assert any(row[5] is not None for row in cro)  # the portfolio has completed cycles to compare
    assert query(root, "select count(*) from marts.rpt_milestone_discrepancies where status <> 'MATCH'") == [(0,)]


def test_materializing_again_changes_nothing(clean_run):
    root, _ = clean_run
    before = snapshot_of_tables(root)

    result = materialize_everything(root)

    assert result.returncode == 0, result.stderr[-3000:]
    after = snapshot_of_tables(root)
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table


def test_defects_are_held_and_nothing_is_lost(tmp_path):
    spec = dataclasses.replace(PortfolioSpec.for_size("tiny", seed=5), defect_rate=0.02)
    summary = generate_portfolio(tmp_path / "landing", spec)

    result = materialize_everything(tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert summary.defects["unknown_visit_code"] + summary.defects["bad_date_format"] > 0
    held = dict(query(tmp_path, "select rule, count(*) from marts.quarantined_rows group by rule"))
    assert held["unmapped_visit_code"] > 0 and held["invalid_format"] > 0
    for feed in load_contract().feeds:
        raw = query(tmp_path, f"select count(*) from raw.{feed.table}")[0][0]
        conformed, quarantined = query(
            tmp_path,
            f"select count(*) filter (where _quarantine_rule is null), count(*) filter (where _quarantine_rule is not null) "
            f"from intermediate.int_{feed.side}__{feed.name}__checked",
        )[0]
        assert raw == conformed + quarantined, feed.table
        loaded_files = query(tmp_path, f"select source, file_name, rows_loaded + rows_quarantined from audit.delivery_ledger "
                                       f"where status = 'loaded' and side = '{feed.side}' and feed = '{feed.name}'")
        for source, name, accounted in loaded_files:  # every record of a loaded file is in raw or held by the reader
            assert accounted == records_in(tmp_path / "landing" / source / name), name
        assert sum(accounted for *_, accounted in loaded_files) == raw + query(
            tmp_path, f"select count(*) from audit.ingest_quarantine where feed = '{feed.name}' and source like '{'sponsor' if feed.side == 'sponsor' else 'cro-%'}'"
        )[0][0], feed.table
