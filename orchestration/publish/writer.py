"""Writing one audience's published build, then swapping it in.

A build is a folder `<publish dir>/builds/<audience>/<build id>/` holding
`<audience>.duckdb` (DuckDB storage v1.1.0, which DuckDB 1.1 and later open) and one
Parquet file per table. It is written under a hidden name and renamed when complete;
then `<publish dir>/<audience>.duckdb` (a hard link to the build's database) and
`<publish dir>/<audience>` (a symlink to the build's folder) are each replaced by one
atomic rename. A reader that has the previous files open keeps reading them, whole and
unchanged; its next connection opens the new build. Nothing ever writes a file that is
published, so readers never lock the pipeline out or the reverse.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from orchestration.publish.policy import Audience, PublishedTable
from orchestration.warehouse import lock_message

STORAGE_VERSION = "v1.1.0"  # the oldest DuckDB storage that DuckDB 1.1+ clients (most BI drivers) read
PUBLISHED = "_published"
PUBLISHED_DDL = f"""
create table pub.main.{PUBLISHED} (
    audience varchar not null,
    build_id varchar not null,
    run_id varchar not null,
    built_at timestamp not null,
    as_of_date date,
    item varchar not null,          -- 'table': a published table; 'source': a landing folder
    name varchar not null,
    row_count bigint,               -- table rows
    rows_hash varchar,              -- sum of the DuckDB hashes of the table's rows: equal for equal contents
    last_delivery varchar,          -- source: its latest delivery loaded into this build
    last_extract_at timestamp
)
"""


@dataclass(frozen=True)
class Build:
    audience: str
    build_id: str
    database: Path  # the current database, <publish dir>/<audience>.duckdb
    folder: Path  # the current build's folder, <publish dir>/<audience> (Parquet files)
    rows: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class BuildContext:
    """What every audience's build of one run shares."""

    warehouse: Path
    publish_dir: Path
    run_id: str
    built_at: datetime  # UTC, naive
    as_of_relation: str  # the model holding the as-of date
    retention_days: int


def cro_ids(warehouse: Path, studies_relation: str) -> list[str]:
    """The CROs of the studies in the warehouse: one audience each."""
    with _warehouse_connection(warehouse) as con:
        return [row[0] for row in con.execute(f"select distinct cro_id from wh.{studies_relation} where cro_id is not null order by 1").fetchall()]


def publish_audience(audience: Audience, build: BuildContext) -> Build:
    started = time.perf_counter()
    build_id = f"{build.built_at:%Y%m%dT%H%M%S%fZ}-{build.run_id[:8]}"
    builds = build.publish_dir / "builds" / audience.name
    partial = builds / f".{build_id}.partial"
    partial.mkdir(parents=True)
    with _warehouse_connection(build.warehouse) as con:
        con.execute(f"attach {_literal(partial / f'{audience.name}.duckdb')} as pub (storage_version '{STORAGE_VERSION}')")
        con.execute("use wh")  # the policy's row filters name warehouse relations
        rows = {table.name: _copy_table(con, table, dict(audience.parameters)) for table in audience.tables}
        _record_build(con, audience, build, build_id)
        for name in [*rows, PUBLISHED]:
            con.execute(f"copy pub.main.{_identifier(name)} to {_literal(partial / f'{name}.parquet')} (format parquet)")
        con.execute("use memory")
        con.execute("detach pub")
    complete = builds / build_id
    partial.rename(complete)
    _swap_in(build.publish_dir, audience.name, complete)
    _prune(builds, keep=complete, older_than=build.built_at - timedelta(days=build.retention_days))
    return Build(
        audience=audience.name,
        build_id=build_id,
        database=build.publish_dir / f"{audience.name}.duckdb",
        folder=build.publish_dir / audience.name,
        rows=rows,
        seconds=time.perf_counter() - started,
    )


def _warehouse_connection(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database with the warehouse attached read-only as `wh`."""
    con = duckdb.connect()
    try:
        con.execute(f"attach {_literal(warehouse)} as wh (read_only)")
    except duckdb.IOException as error:
        con.close()
        if "Could not set lock" in str(error):
            raise RuntimeError(lock_message(warehouse, str(error), read_only=True)) from error
        raise
    return con


def _copy_table(con: duckdb.DuckDBPyConnection, table: PublishedTable, parameters: dict[str, str]) -> int:
    columns = ", ".join(_identifier(column) for column in table.columns)
    where = f" where {table.row_filter}" if table.row_filter else ""
    used = {name: value for name, value in parameters.items() if table.row_filter and f"${name}" in table.row_filter}
    con.execute(f"create table pub.main.{_identifier(table.name)} as select {columns} from {table.relation}{where}", used)
    return con.execute(f"select count(*) from pub.main.{_identifier(table.name)}").fetchall()[0][0]


def _record_build(con: duckdb.DuckDBPyConnection, audience: Audience, build: BuildContext, build_id: str) -> None:
    con.execute(PUBLISHED_DDL)
    as_of = con.execute(f"select max(as_of_date) from {build.as_of_relation}").fetchall()[0][0]
    header = [audience.name, build_id, build.run_id, build.built_at, as_of]
    for table in audience.tables:
        con.execute(
            f"insert into pub.main.{PUBLISHED} select ?, ?, ?, ?, ?, 'table', ?, count(*), "
            f"coalesce(sum(hash(t)), 0)::varchar, null, null from pub.main.{_identifier(table.name)} as t",
            [*header, table.name],
        )
    sources = "" if audience.cro_id is None else "and source in ('sponsor', ?)"
    con.execute(
        f"""
        insert into pub.main.{PUBLISHED}
        select ?, ?, ?, ?, ?, 'source', source, null, null, max_by(file_name, (extract_at, file_name)), max(extract_at)
        from audit.delivery_ledger
        where status = 'loaded' {sources}
        group by source
        """,
        [*header, *([f"cro-{audience.cro_id}"] if audience.cro_id else [])],
    )


def _swap_in(publish_dir: Path, name: str, build: Path) -> None:
    staged_database = publish_dir / f".{name}.duckdb.{os.getpid()}"
    os.link(build / f"{name}.duckdb", staged_database)
    os.replace(staged_database, publish_dir / f"{name}.duckdb")
    staged_folder = publish_dir / f".{name}.{os.getpid()}"
    os.symlink(build.relative_to(publish_dir), staged_folder)
    os.replace(staged_folder, publish_dir / name)


def _prune(builds: Path, keep: Path, older_than: datetime) -> None:
    """Builds (and partial ones left by a crash) older than the retention; never the
    current one. A reader still holding a deleted build's files keeps reading them."""
    cutoff = older_than.replace(tzinfo=timezone.utc).timestamp()
    for folder in builds.iterdir():
        if folder != keep and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
