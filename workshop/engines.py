"""A private PostgreSQL server and the marts read from each engine, for the engine test
(tests/test_engines.py) and the engine benchmark (bench/engines.py).

The server is a cluster in a temporary folder (`initdb`, `pg_ctl`, from the Debian
`postgresql` package), started as the `postgres` user when run as root, on a free port of
127.0.0.1, trusting local connections: nothing of the machine's own PostgreSQL is used.
The marts are compared row by row without the wall-clock columns (the time of each build).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

USER = "common_ground"
DATABASE = "common_ground"
# Wall-clock columns (the time of each build), not data: left out of the comparison.
BUILD_TIME_COLUMNS = {"_built_at", "days_held", "hours_since_received", "hours_since_loaded", "hours_oldest_held", "is_stale"}


class PostgresMissing(RuntimeError):
    pass


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise PostgresMissing("PostgreSQL is not installed: run `make test` (it installs it) or `apt-get install postgresql`")
    return Path(found[-1]).parent


def _as_postgres_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def private_postgres() -> Iterator[dict[str, str]]:
    """A running PostgreSQL server with an empty database `common_ground`; yields its
    CG_PG_* settings. Its folder is under the system's temporary folder (not under
    pytest's, which only root may enter)."""
    bin_dir, folder, port = postgres_bin(), Path(tempfile.mkdtemp(prefix="cg-postgres-")), _free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data = folder / "data"

    def run(program: str, *arguments: str) -> None:
        subprocess.run(_as_postgres_user([str(bin_dir / program), *arguments]), check=True, capture_output=True)

    run("initdb", "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8")
    run("pg_ctl", "-D", str(data), "-l", str(folder / "server.log"), "-w", "start",
        "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1")
    try:
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE)
        yield {"CG_PG_HOST": "127.0.0.1", "CG_PG_PORT": str(port), "CG_PG_USER": USER, "CG_PG_DATABASE": DATABASE}
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def pg_connect(settings: dict[str, str], database: str | None = None):
    import psycopg2

    return psycopg2.connect(host=settings["CG_PG_HOST"], port=settings["CG_PG_PORT"],
                            user=settings["CG_PG_USER"], dbname=database or settings["CG_PG_DATABASE"])


def create_database(settings: dict[str, str], name: str) -> None:
    from psycopg2 import sql

    pg = pg_connect(settings)
    pg.autocommit = True
    try:
        with pg.cursor() as cursor:
            cursor.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    finally:
        pg.close()


# --- the marts of a build ---------------------------------------------------------------

def mart_columns(duck_path: Path) -> dict[str, list[str]]:
    """Each table of the DuckDB warehouse's `marts` schema and its columns, wall-clock ones left out."""
    with duckdb.connect(str(duck_path), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'marts' order by table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        if column not in BUILD_TIME_COLUMNS:
            columns.setdefault(table, []).append(column)
    return columns


def normalized(rows) -> list[tuple]:
    """The rows in one order, doubles to 9 places (decimals, dates and text exactly)."""
    def value(item):
        return round(item, 9) if isinstance(item, float) else item
    return sorted((tuple(value(item) for item in row) for row in rows), key=lambda row: [(v is None, str(v)) for v in row])


def duckdb_marts(duck_path: Path, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    with duckdb.connect(str(duck_path), read_only=True) as con:
        return {table: normalized(con.execute(f"select {', '.join(cols)} from marts.{table}").fetchall())
                for table, cols in columns.items()}


def postgres_marts(settings: dict[str, str], columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    pg = pg_connect(settings)
    try:
        with pg.cursor() as cursor:
            marts = {}
            for table, cols in columns.items():
                cursor.execute(f"select {', '.join(cols)} from marts.{table}")
                marts[table] = normalized(cursor.fetchall())
            return marts
    finally:
        pg.close()
