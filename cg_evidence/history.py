"""A KPI as it stood on a past date, rebuilt from the archive and the ledger into a
temporary warehouse (the live one is only read): "what did we know on D" replays only the
deliveries extracted by D, "what do we know now about D" replays every delivery; both
judge the KPIs as of D."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

from orchestration.ingest.deliveries import file_sha256
from orchestration.settings import Settings
from orchestration.warehouse import connect

REPLAYED = ("loaded", "held", "superseded")  # duplicates and rejected files change nothing


def deliveries_to_replay(settings: Settings, known_on: date | None) -> list[tuple[str, str, str, Path]]:
    """(source, file name, SHA-256, archive copy) of each delivery to replay, in extract order."""
    sql = "select source, file_name, sha256, archive_path from audit.delivery_ledger where status in (select unnest(?))"
    values: list = [list(REPLAYED)]
    if known_on is not None:
        sql += " and extract_at < ?"
        values.append(datetime.combine(known_on + timedelta(days=1), time()))
    with connect(settings.warehouse, read_only=True) as con:
        rows = con.execute(sql + " order by extract_at, source, file_name", values).fetchall()
    return [(source, name, sha256, Path(path)) for source, name, sha256, path in rows]


def rebuild(settings: Settings, workdir: Path, as_of: date, known_on: date | None, progress=print) -> Settings:
    """Land the archived files again in `workdir`, each checked against its ledger hash, and
    build every asset there with the project's own code location (its gates included), as
    of `as_of`. Everything, not only the KPI's upstream: the dbt tests of a model refer to
    other models (relationships), so a subset would fail them."""
    landing = workdir / "landing"
    deliveries = deliveries_to_replay(settings, known_on)
    for source, file_name, sha256, archived in deliveries:
        if file_sha256(archived) != sha256:
            raise RuntimeError(f"the archive copy {archived} no longer has the bytes the ledger recorded ({sha256}): "
                               "restore the archive before rebuilding")
        (landing / source).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archived, landing / source / file_name)
    rebuilt = Settings(
        landing_dir=landing, archive_dir=workdir / "archive", warehouse=workdir / "warehouse.duckdb", as_of=as_of,
        reporting_currency=settings.reporting_currency, api_state_dir=workdir / "api_state",
        quality_docs_dir=workdir / "quality_docs", publish_dir=workdir / "published",
    )
    (workdir / "dagster_home").mkdir(exist_ok=True)
    env = {
        **os.environ, **rebuilt.dbt_env(), "DAGSTER_HOME": str(workdir / "dagster_home"),
        "CG_LANDING_DIR": str(landing), "CG_ARCHIVE_DIR": str(rebuilt.archive_dir),
        "CG_QUALITY_DOCS_DIR": str(rebuilt.quality_docs_dir), "CG_PUBLISH_DIR": str(rebuilt.publish_dir),
        "CG_API_STATE_DIR": str(rebuilt.api_state_dir), "CG_CRO_APIS": "",
        # what we knew on D: only what was delivered by D; what we know now about D: everything
        "CG_AS_OF_DELIVERIES": "delivered_by_as_of" if known_on else "all",
    }
    progress(f"Rebuilding as of {as_of} from {len(deliveries)} archived deliveries"
             f"{f' extracted by {known_on}' if known_on else ''} in {workdir} (a minute or two)...")
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "asset", "materialize", "-m", "orchestration.definitions", "--select", "*"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"the rebuild failed; the end of its output:\n{(finished.stdout + finished.stderr)[-3000:]}")
    return rebuilt
