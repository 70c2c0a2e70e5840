"""The DuckDB warehouse: connecting, and small query helpers.

DuckDB 2.x keeps a result open after `fetchone()`, which blocks the connection's
relation API; these helpers always read results to the end."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pandas as pd

POOL = "warehouse"  # the Dagster pool of every step that opens the warehouse: DuckDB allows one writing process


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise RuntimeError(
                f"the warehouse {path} is open for writing in another process (a Dagster run, dbt, "
                "or a notebook); wait for it to finish or close it, then try again"
            ) from error
        raise


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
