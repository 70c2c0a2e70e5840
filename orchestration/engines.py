"""The engine dbt builds on, besides DuckDB (README, "Outgrowing one machine").

Deliveries are ingested and gated in the DuckDB warehouse as always (ledger, quarantine,
receipts and contract gates are the same code on every engine); what dbt reads, the
`raw` and `audit` tables, is then handed to the engine selected by `CG_ENGINE`:

- `postgres`: each table created with the same columns and types and filled with `COPY`;
- `spark`: each table written as Parquet into a raw zone folder (the layout a cluster
  reads from object storage) and registered as a table over that folder.

Under Dagster (PostgreSQL only), the hand-over is the `postgres/raw/*` and
`postgres/audit/*` assets (orchestration/assets/engine.py), between ingestion and dbt; the
conformed and mart gates and the publish assets read the models' rows from PostgreSQL
into DuckDB (`ModelRows`, `mirror_from_postgres`), where the same GX suites and the same
writer run as on DuckDB.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

ENGINES = ("duckdb", "postgres", "spark")
DAGSTER_ENGINES = ("duckdb", "postgres")
DBT_SOURCE_SCHEMAS = ("raw", "audit")
# The CG_PG_* settings and their defaults, as dbt_project/profiles.yml reads them.
POSTGRES_SETTINGS = {"CG_PG_HOST": "127.0.0.1", "CG_PG_PORT": "5432", "CG_PG_USER": "common_ground",
                     "CG_PG_PASSWORD": "", "CG_PG_DATABASE": "common_ground"}

# DuckDB column types of the raw and audit tables, as each engine spells them.
_POSTGRES_TYPES = {"VARCHAR": "text", "JSON": "text", "BIGINT": "bigint", "INTEGER": "integer",
                   "BOOLEAN": "boolean", "TIMESTAMP": "timestamp without time zone", "DATE": "date"}
# PostgreSQL column types of the models, as DuckDB spells them (numeric apart).
_DUCKDB_TYPES = {"text": "VARCHAR", "character varying": "VARCHAR", "character": "VARCHAR", "json": "VARCHAR",
                 "jsonb": "VARCHAR", "bigint": "BIGINT", "integer": "INTEGER", "smallint": "SMALLINT",
                 "boolean": "BOOLEAN", "date": "DATE", "timestamp without time zone": "TIMESTAMP",
                 "timestamp with time zone": "TIMESTAMPTZ", "double precision": "DOUBLE", "real": "FLOAT",
                 "interval": "INTERVAL"}
# A numeric without precision (a sum, a quotient) is read as this: exact to 10 places.
_UNCONSTRAINED_NUMERIC = "DECIMAL(38, 10)"


def source_tables(duck_con) -> list[tuple[str, str]]:
    return duck_con.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in {DBT_SOURCE_SCHEMAS} and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()


def _columns(duck_con, schema: str, table: str) -> list[tuple[str, str]]:
    return duck_con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()


def _postgres_type(duckdb_type: str) -> str:
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duckdb_type.replace(" ", ""))
    if decimal:
        return f"numeric({decimal[1]}, {decimal[2]})"
    return _POSTGRES_TYPES[duckdb_type]


def copy_to_postgres(duck_con, pg_con) -> dict[str, int]:
    """Replace the rows of each raw and audit table in PostgreSQL with the DuckDB table's,
    by COPY, in one transaction (readers see the previous rows until it commits). A table
    is truncated and refilled, so the dbt views on it stay; one whose columns changed (a
    contract change) is dropped with what depends on it and created again. Returns the
    rows copied per table."""
    from psycopg2 import sql

    copied = {}
    with pg_con, pg_con.cursor() as cursor:
        for schema, table in source_tables(duck_con):
            columns = [(name, _postgres_type(kind)) for name, kind in _columns(duck_con, schema, table)]
            target = sql.Identifier(schema, table)
            cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            if _postgres_columns(cursor, schema, table) == columns:
                cursor.execute(sql.SQL("truncate table {}").format(target))
            else:
                cursor.execute(sql.SQL("drop table if exists {} cascade").format(target))
                cursor.execute(sql.SQL("create table {} ({})").format(target, sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns
                )))
            # DuckDB's CSV writer tells an empty text ("") from a null (nothing), as COPY reads them
            with tempfile.TemporaryDirectory() as folder:
                csv_path = Path(folder) / "table.csv"
                duck_con.execute(f"copy {schema}.{table} to '{csv_path}' (format csv, header false)")
                with csv_path.open(encoding="utf-8") as rows:
                    cursor.copy_expert(sql.SQL("copy {} from stdin with (format csv)").format(target).as_string(cursor), rows)
            copied[f"{schema}.{table}"] = cursor.rowcount
    return copied


def _postgres_columns(cursor, schema: str, table: str) -> list[tuple[str, str]]:
    """The table's columns as `_postgres_type` spells them (empty when there is no table)."""
    cursor.execute(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        [schema, table],
    )
    return [(name, f"numeric({precision}, {scale})" if kind == "numeric" else kind)
            for name, kind, precision, scale in cursor.fetchall()]


def publish_to_spark(duck_con, spark, raw_zone: Path) -> list[str]:
    """Write each raw and audit table as Parquet under `raw_zone/<schema>/<table>/` and
    register it in the Spark catalog as `<schema>.<table>`. Returns the tables registered."""
    registered = []
    for schema, table in source_tables(duck_con):
        folder = raw_zone / schema / table
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        duck_con.execute(f"copy ({_as_utc_instants(duck_con, schema, table)}) to '{folder / 'part-0.parquet'}' (format parquet)")
        spark.sql(f"create database if not exists {schema}")
        spark.sql(f"drop table if exists {schema}.{table}")
        spark.sql(f"create table {schema}.{table} using parquet location '{folder.as_uri()}'")
        registered.append(f"{schema}.{table}")
    return registered


def _as_utc_instants(duck_con, schema: str, table: str) -> str:
    """The table's rows with its timestamps (UTC, without zone in DuckDB) marked as UTC
    instants, which Spark reads as its own `timestamp` rather than `timestamp_ntz`."""
    columns = [
        f"timezone('UTC', \"{name}\") as \"{name}\"" if kind == "TIMESTAMP" else f'"{name}"'
        for name, kind in _columns(duck_con, schema, table)
    ]
    return f"select {', '.join(columns)} from {schema}.{table}"


# --- under Dagster: settings, and the models' rows read back into DuckDB ---------------

def engine_from_env() -> str:
    engine = (os.environ.get("CG_ENGINE") or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"CG_ENGINE={engine!r} is not one of {', '.join(ENGINES)}")
    return engine


def require_dagster_engine(engine: str) -> None:
    if engine not in DAGSTER_ENGINES:
        raise ValueError(
            f"CG_ENGINE={engine!r}: the Dagster code location runs on {' or '.join(DAGSTER_ENGINES)}; on Spark, "
            "hand the raw zone over with publish_to_spark and run `dbt build` (README, \"Outgrowing one machine\")"
        )


def postgres_connection():
    """A connection to the PostgreSQL warehouse of the CG_PG_* settings (those dbt uses)."""
    import psycopg2

    settings = {name: os.environ.get(name, default) for name, default in POSTGRES_SETTINGS.items()}
    try:
        return psycopg2.connect(host=settings["CG_PG_HOST"], port=int(settings["CG_PG_PORT"]), user=settings["CG_PG_USER"],
                                password=settings["CG_PG_PASSWORD"], dbname=settings["CG_PG_DATABASE"])
    except psycopg2.OperationalError as error:
        raise RuntimeError(
            f"cannot connect to PostgreSQL at {settings['CG_PG_HOST']}:{settings['CG_PG_PORT']} "
            f"(database {settings['CG_PG_DATABASE']}, user {settings['CG_PG_USER']}): {error}"
            "check the CG_PG_* settings (README, \"Outgrowing one machine\")"
        ) from error


def _schema_and_table(relation: str) -> tuple[str, str]:
    """`"schema"."table"` (as the manifest's relations are written) -> (schema, table)."""
    found = re.fullmatch(r'"?([^".]+)"?\."?([^".]+)"?', relation)
    if not found:
        raise ValueError(f"{relation!r} is not a schema.table relation")
    return found[1], found[2]


def _duckdb_columns_of_postgres(cursor, schema: str, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        [schema, table],
    )
    columns = []
    for name, kind, precision, scale in cursor.fetchall():
        if kind == "numeric":
            columns.append((name, f"DECIMAL({precision}, {scale})" if precision and precision <= 38 else _UNCONSTRAINED_NUMERIC))
        elif kind in _DUCKDB_TYPES:
            columns.append((name, _DUCKDB_TYPES[kind]))
        else:
            raise ValueError(f"{schema}.{table}.{name}: PostgreSQL type {kind!r} has no DuckDB counterpart here")
    if not columns:
        raise LookupError(f"PostgreSQL has no table or view {schema}.{table}: was the dbt build on PostgreSQL run?")
    return columns


def fetch_from_postgres(pg_con, duck_con, relation: str, target: str, where: str = "", temporary: bool = True) -> int:
    """Create the DuckDB table `target` with the rows of the PostgreSQL relation (those
    matching `where`), its column types spelled the DuckDB way, by one COPY to CSV and
    back. Returns the rows fetched."""
    schema, table = _schema_and_table(relation)
    with pg_con.cursor() as cursor:
        columns = _duckdb_columns_of_postgres(cursor, schema, table)
        duck_con.execute(f"create {'temp ' if temporary else ''}table {target} ("
                         + ", ".join(f'"{name}" {kind}' for name, kind in columns) + ")")
        with tempfile.TemporaryDirectory() as folder:
            csv_path = Path(folder) / "rows.csv"
            query = f'select * from "{schema}"."{table}"' + (f" where {where}" if where else "")
            with csv_path.open("w", encoding="utf-8") as out:
                cursor.copy_expert(f"copy ({query}) to stdout with (format csv)", out)
            if csv_path.stat().st_size:  # no rows, no file to read
                # a quoted "" is an empty text, an unquoted nothing a null: as COPY wrote them
                duck_con.execute(f"copy {target} from '{csv_path}' (format csv, header false, delimiter ',', quote '\"', "
                                 "escape '\"', allow_quoted_nulls false, auto_detect false)")
    return duck_con.execute(f"select count(*) from {target}").fetchall()[0][0]


class ModelRows:
    """Where the gates read a model's rows: the DuckDB warehouse itself, or (PostgreSQL)
    a temporary DuckDB table fetched from the engine, so the same GX suites run on them."""

    def __init__(self, pg_con=None):
        self.pg_con = pg_con

    def columns(self, duck_con, relation: str) -> list[str]:
        if self.pg_con is None:
            return list(duck_con.sql(f"select * from {relation} limit 0").columns)
        with self.pg_con.cursor() as cursor:
            return [name for name, _ in _duckdb_columns_of_postgres(cursor, *_schema_and_table(relation))]

    def stage(self, duck_con, name: str, relation: str, where: str = "") -> None:
        """`name`: the relation's rows (matching `where`) in the DuckDB connection."""
        if self.pg_con is None:
            duck_con.execute(f"create or replace temp view {name} as select * from {relation}" + (f" where {where}" if where else ""))
        else:
            duck_con.execute(f"drop table if exists {name}")
            fetch_from_postgres(self.pg_con, duck_con, relation, name, where)

    def release(self, duck_con, name: str) -> None:
        duck_con.execute(f"drop {'view' if self.pg_con is None else 'table'} {name}")


def mirror_from_postgres(pg_con, landing_warehouse: Path, relations: Iterable[str], mirror: Path) -> Path:
    """A DuckDB file `mirror` holding the PostgreSQL relations (same schema and table
    names) and the landing warehouse's delivery ledger, for the publish writer."""
    import duckdb

    with duckdb.connect(str(mirror)) as duck_con:
        for relation in sorted(set(relations)):
            schema, table = _schema_and_table(relation)
            duck_con.execute(f'create schema if not exists "{schema}"')
            fetch_from_postgres(pg_con, duck_con, relation, f'"{schema}"."{table}"', temporary=False)
        duck_con.execute(f"attach '{landing_warehouse}' as landing (read_only)")
        duck_con.execute("create schema if not exists audit")
        duck_con.execute("create table audit.delivery_ledger as select * from landing.audit.delivery_ledger")
        duck_con.execute("detach landing")
    return mirror
