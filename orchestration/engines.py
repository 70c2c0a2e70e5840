"""The engine dbt builds on, besides DuckDB (README, "Outgrowing one machine").

Deliveries are ingested and gated in the DuckDB warehouse as always (ledger, quarantine,
receipts and contract gates are the same code on every engine); what dbt reads, the
`raw` and `audit` tables, is then handed to the engine selected by `CG_ENGINE`:

- `postgres`: each table created with the same columns and types and filled with `COPY`;
- `spark`: each table written as Parquet into a raw zone folder (the layout a cluster
  reads from object storage) and registered as a table over that folder.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

DBT_SOURCE_SCHEMAS = ("raw", "audit")

# DuckDB column types of the raw and audit tables, as each engine spells them.
_POSTGRES_TYPES = {"VARCHAR": "text", "JSON": "text", "BIGINT": "bigint", "INTEGER": "integer",
                   "BOOLEAN": "boolean", "TIMESTAMP": "timestamp", "DATE": "date"}


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
    """Replace each raw and audit table in PostgreSQL with the DuckDB one, by COPY, in one
    transaction. Returns the rows copied per table."""
    from psycopg2 import sql

    copied = {}
    with pg_con, pg_con.cursor() as cursor:
        for schema, table in source_tables(duck_con):
            columns = _columns(duck_con, schema, table)
            target = sql.Identifier(schema, table)
            cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            cursor.execute(sql.SQL("drop table if exists {}").format(target))
            cursor.execute(sql.SQL("create table {} ({})").format(target, sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_postgres_type(kind))) for name, kind in columns
            )))
            # DuckDB's CSV writer tells an empty text ("") from a null (nothing), as COPY reads them
            with tempfile.TemporaryDirectory() as folder:
                csv_path = Path(folder) / "table.csv"
                duck_con.execute(f"copy {schema}.{table} to '{csv_path}' (format csv, header false)")
                with csv_path.open(encoding="utf-8") as rows:
                    cursor.copy_expert(sql.SQL("copy {} from stdin with (format csv)").format(target).as_string(cursor), rows)
            copied[f"{schema}.{table}"] = cursor.rowcount
    return copied


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
