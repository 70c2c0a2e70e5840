"""The DuckDB warehouse: connecting, and small query helpers.

DuckDB 2.x keeps a result open after `fetchone()`, which blocks the connection's
relation API; these helpers always read results to the end."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pandas as pd

POOL = "warehouse"  # the Dagster pool of every step that opens the warehouse: DuckDB allows one writing process
LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
READ_THE_PUBLISHED_FILES = (
    "The working warehouse is the pipeline's alone: BI tools and notebooks read the published files "
    "in CG_PUBLISH_DIR (data/published/ by default; README, 'Reading the data')."
)


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        if "Could not set lock" in str(error):
            raise RuntimeError(lock_message(path, str(error), read_only)) from error
        raise


def lock_message(path: Path, error: str, read_only: bool) -> str:
    """Who holds the warehouse (DuckDB names the process) and what to do about it."""
    holder = LOCK_HOLDER.search(error)
    process = f"process {holder['pid']} ({_process_name(holder['pid'], holder['program'])})" if holder else "another process"
    if not read_only and _only_readers_hold(path):
        return (
            f"the warehouse {path} is open read-only in {process}, and DuckDB lets no process write a file "
            f"that another one has open, even read-only. Close it there, then run again. {READ_THE_PUBLISHED_FILES}"
        )
    return (
        f"the warehouse {path} is open for writing in {process}: wait for that run (Dagster or dbt) to finish, "
        f"or close that process if it is not the pipeline, then try again. {READ_THE_PUBLISHED_FILES}"
    )


def _only_readers_hold(path: Path) -> bool:
    """Readers share the file's lock, so a read-only open succeeds only when no writer holds it."""
    try:
        duckdb.connect(str(path), read_only=True).close()
        return True
    except duckdb.IOException:
        return False


def _process_name(pid: str, program: str) -> str:
    """The process's short name (not its arguments, which may carry secrets)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or program
    except OSError:
        return program


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> tuple | None:
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    row = first_row(con, sql, params)
    return row[0] if row else None


def arrow_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """A query's result as a pandas frame through Arrow: several times faster than
    `.df()` for millions of rows, with the same Arrow-backed string columns."""
    return con.sql(sql, params=list(params)).to_arrow_table().to_pandas()


def naive_utc(moment: datetime) -> datetime:
    """The warehouse stores UTC timestamps without zone, portably."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
