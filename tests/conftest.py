"""Shared fixtures: temporary landing folders and warehouses, real DuckDB files."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.contract import load_contract
from orchestration.ingest.loader import Outcome, ensure_warehouse, ingest_feed
from orchestration.warehouse import connect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FEED_EXAMPLES = PROJECT_ROOT / "tests" / "fixtures" / "feed-examples"  # copied from shared/feed-examples


def write_delivery(landing: Path, source: str, file_name: str, content: str | bytes) -> Path:
    path = landing / source / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def ingest_everything(con, landing: Path, archive: Path) -> list[Outcome]:
    contract = load_contract()
    outcomes = []
    for feed in contract.feeds:
        outcomes += ingest_feed(con, contract, feed, landing, archive, archive.parent / "quality_docs", run_id="test")
    return outcomes


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def con(tmp_path: Path):
    connection = connect(tmp_path / "warehouse.duckdb")
    ensure_warehouse(connection, load_contract())
    yield connection
    connection.close()


def run_pipeline(settings, selection=None, raise_on_error=True, instance=None):
    """Materialize the real assets into `settings.warehouse` through Dagster, in process
    (on an ephemeral instance unless one is given)."""
    import dagster as dg

    from orchestration.definitions import build_definitions

    definitions = build_definitions(settings)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.dbt_env().items():
            patch.setenv(name, value)  # what a run process started with these settings sees
        return dg.materialize(
            [*definitions.assets, *definitions.asset_checks],
            resources=definitions.resources,
            selection=selection,
            instance=instance or dg.DagsterInstance.ephemeral(),
            raise_on_error=raise_on_error,
        )


def settings_for(root: Path, landing: Path, as_of: str | None = None, currency: str = "USD"):
    from datetime import date

    from orchestration.settings import Settings

    return Settings(
        landing_dir=landing,
        archive_dir=root / "archive",
        warehouse=root / "warehouse.duckdb",
        as_of=date.fromisoformat(as_of) if as_of else None,
        reporting_currency=currency,
        quality_docs_dir=root / "quality_docs",
        publish_dir=root / "published",
    )


def write_tiny_portfolio(landing: Path) -> None:
    """The generator's `tiny` portfolio, with no defects: studies CG-1001 (CRO acme) and
    CG-1002 (CRO zenith), three weekly extracts, the last on 2026-11-16."""
    import subprocess
    import sys

    generate = Path(sys.executable).parent / "cg-generate"
    subprocess.run(
        [str(generate), "--size", "tiny", "--defect-rate", "0", "--workers", "1", "--out", str(landing)],
        check=True, capture_output=True,
    )
