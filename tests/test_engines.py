"""The same project on DuckDB, PostgreSQL and Spark (README, "Outgrowing one machine"):
the KPI fixture (tests/fixtures/kpi) plus one more CRO accruals delivery, ingested and
gated once by the real loader into DuckDB, handed to each engine (PostgreSQL by COPY,
Spark as a Parquet raw zone), and built with `dbt build` (models, data tests and unit
tests) on each: every mart must be identical to DuckDB's, to the cent and the day, held
rows and their reasons included.

The extra delivery (`accruals__20260630T030000Z.csv`, 12 records):
- 10 good rows, one of them 1237.50 EUR: 1237.50 x 1.13 = 1398.375, which rounds half up
  to 1398.38 USD (a double FX rate made it 1398.37 on DuckDB only);
- `A-NOPE`, a rate code with no mapping: loaded, then held by dbt (`unmapped_rate_code`);
- Amount `12,50`: quarantined by the contract gate (1 of 12 rows, under the 10 % that
  would hold the whole delivery), so it is in `marts.quarantined_rows` on every engine.

A real PostgreSQL server (a private cluster in a temporary folder, started by this
module) and one real local Spark session for the module (dbt runs in process, so it
shares the session and its Derby metastore).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.contract import load_contract
from orchestration.engines import copy_to_postgres, fetch_from_postgres, publish_to_spark
from orchestration.ingest.loader import ensure_warehouse
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR
from orchestration.warehouse import connect
from workshop.engines import PostgresMissing, create_database, mart_columns, normalized, pg_connect, postgres_bin, private_postgres
from workshop.engines import duckdb_marts as duckdb_marts_of
from workshop.engines import postgres_marts as postgres_marts_of

from conftest import PROJECT_ROOT, ingest_everything

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"
AS_OF = "2026-06-30"
EXTRA_ACCRUALS = "\n".join([
    "CroStudyRef,Month,RateCode,Units,Amount,Currency,InternalCost,UpdatedAt",
    "ACM-0001,2026-05,A-PM-MTH,1.0,1237.50,EUR,700.00,2026-06-29T10:00:00+02:00",
    *(f"ACM-0001,2026-0{month},{code},1.0,{100 * month}.00,EUR,50.00,2026-06-29T10:00:00+02:00"
      for month in range(1, 6) for code in ("A-MON-OSV", "A-PM-MTH") if (month, code) != (5, "A-PM-MTH")),
    "ACM-0001,2026-05,A-NOPE,1.0,100.00,EUR,50.00,2026-06-29T10:00:00+02:00",
    "ACM-0001,2026-05,A-MON-OSV-PL,1.0,\"12,50\",EUR,50.00,2026-06-29T10:00:00+02:00",
]) + "\n"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """The DuckDB warehouse after ingestion: raw, audit and held tables, no dbt yet."""
    root = tmp_path_factory.mktemp("engines")
    landing = root / "landing"
    shutil.copytree(FIXTURE, landing, ignore=shutil.ignore_patterns("README.md"))
    (landing / "cro-acme" / "accruals__20260630T030000Z.csv").write_text(EXTRA_ACCRUALS, encoding="utf-8")
    con = connect(root / "warehouse.duckdb")
    ensure_warehouse(con, load_contract())
    ingest_everything(con, landing, root / "archive")
    con.close()
    return root / "warehouse.duckdb"


def dbt_build(monkeypatch, engine: str, env: dict[str, str]) -> None:
    """`dbt build` on `engine`: in this process for Spark, so that dbt uses this module's
    session, and as the dbt command elsewhere (dbt-duckdb would keep the file open)."""
    settings = {"CG_ENGINE": engine, "CG_AS_OF": AS_OF, "CG_REPORTING_CURRENCY": "USD", **env}
    arguments = ["build", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                 "--target-path", str(DBT_PROJECT_DIR / "target" / engine)]
    if engine != "spark":
        done = subprocess.run([DBT_EXECUTABLE, *arguments], env={**os.environ, **settings}, capture_output=True, text=True)
        assert done.returncode == 0, f"dbt build on {engine} failed:\n{done.stdout[-3000:]}"
        return
    from dbt.cli.main import dbtRunner

    with monkeypatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        result = dbtRunner().invoke(arguments)
    failed = [r.node.name for r in (result.result or []) if str(r.status) in ("error", "fail")]
    assert result.success, f"dbt build on {engine} failed: {failed or result.exception}"


# --- PostgreSQL: a private cluster (workshop/engines.py) ----------------------------

@pytest.fixture(scope="module")
def postgres():
    """A running PostgreSQL server with an empty database; yields the CG_PG_* settings."""
    try:
        postgres_bin()
    except PostgresMissing as missing:
        pytest.fail(str(missing))
    with private_postgres() as settings:
        yield settings


# --- Spark: one local session for the module ---------------------------------------

@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    folder = tmp_path_factory.mktemp("spark")
    previous_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"  # rows come back as naive datetimes in the process's zone
    time.tzset()
    session = (
        SparkSession.builder.master("local[1]").appName("common-ground-engine-tests").enableHiveSupport()
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={folder}")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session, folder
    finally:
        session.stop()
        if previous_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous_tz
        time.tzset()


# --- one build per engine, and its marts ---------------------------------------------

@pytest.fixture(scope="module")
def duckdb_marts(ingested, tmp_path_factory):
    built = tmp_path_factory.mktemp("duckdb") / "warehouse.duckdb"
    shutil.copyfile(ingested, built)
    with pytest.MonkeyPatch.context() as patch:
        dbt_build(patch, "duckdb", {"CG_WAREHOUSE": str(built)})
    columns = mart_columns(built)
    return duckdb_marts_of(built, columns), columns


@pytest.fixture(scope="module")
def postgres_marts(ingested, postgres, duckdb_marts):
    pg = pg_connect(postgres)
    with connect(ingested, read_only=True) as duck:
        copied = copy_to_postgres(duck, pg)
    pg.close()
    assert copied["raw.cro__accruals"] == 4 + 11  # the fixture's 4 rows and the extra 11 (one quarantined)
    with pytest.MonkeyPatch.context() as patch:
        dbt_build(patch, "postgres", postgres)
    return postgres_marts_of(postgres, duckdb_marts[1])


@pytest.fixture(scope="module")
def spark_marts(ingested, spark, duckdb_marts):
    session, folder = spark
    with connect(ingested, read_only=True) as duck:
        registered = publish_to_spark(duck, session, folder / "raw_zone")
    assert "raw.cro__accruals" in registered and (folder / "raw_zone" / "raw" / "cro__accruals" / "part-0.parquet").exists()
    with pytest.MonkeyPatch.context() as patch:
        dbt_build(patch, "spark", {"CG_SPARK_WAREHOUSE_DIR": str(folder / "warehouse")})
    return {table: normalized(tuple(row) for row in session.sql(f"select {', '.join(cols)} from marts.{table}").collect())
            for table, cols in duckdb_marts[1].items()}


@pytest.fixture
def marts(request, duckdb_marts):
    if request.param == "duckdb":
        return duckdb_marts[0]
    return request.getfixturevalue(f"{request.param}_marts")


ENGINES = pytest.mark.parametrize("marts", ["duckdb", "postgres", "spark"], indirect=True)


@ENGINES
def test_every_mart_equals_duckdb_to_the_cent_and_the_day(marts, duckdb_marts):
    reference = duckdb_marts[0]
    assert sorted(marts) == sorted(reference)
    assert len(reference) == 57  # every table of the marts schema: 19 core, 16 KPI, 6 governance, 16 evidence
    differing = [table for table in reference if marts[table] != reference[table]]
    assert differing == []


@ENGINES
def test_half_a_cent_rounds_up_on_every_engine(marts, duckdb_marts):
    columns = duckdb_marts[1]["fct_accruals"]
    month, code, amount, reporting = (columns.index(name) for name in ("accrual_month", "rate_code", "amount", "amount_reporting"))
    found = [(row[amount], row[reporting]) for row in marts["fct_accruals"] if (row[month], row[code]) == ("2026-05", "A-PM-MTH")]
    assert found == [(Decimal("1237.50"), Decimal("1398.38"))]  # 1237.50 x 1.13 = 1398.375, half up


@ENGINES
def test_held_rows_and_reasons_are_the_same_on_every_engine(marts, duckdb_marts):
    columns = duckdb_marts[1]["quarantined_rows"]
    rule, reason = columns.index("rule"), columns.index("reason")
    assert sorted((row[rule], row[reason]) for row in marts["quarantined_rows"]) == EXPECTED_HELD


EXPECTED_HELD = sorted([
    ("unmapped_rate_code", "unmapped_rate_code: 'A-NOPE'"),
    ("invalid_format", "invalid_format: Amount='12,50' is not a decimal number with '.' as separator"),
])


def test_marts_read_back_from_postgres_are_the_marts_postgres_built(postgres, postgres_marts, duckdb_marts):
    """What the conformed and mart gates and the publish assets read under Dagster on
    PostgreSQL (`fetch_from_postgres`: one COPY to CSV and back into DuckDB, the column
    types spelled the DuckDB way): every mart, empty texts, nulls and decimals included."""
    pg, duck = pg_connect(postgres), duckdb.connect()
    try:
        read_back = {}
        for table, columns in duckdb_marts[1].items():
            fetch_from_postgres(pg, duck, f'"marts"."{table}"', f"read_back__{table}")
            read_back[table] = normalized(duck.execute(f"select {', '.join(columns)} from read_back__{table}").fetchall())
    finally:
        pg.close()
        duck.close()
    assert sum(map(len, read_back.values())) > 0
    assert [table for table in postgres_marts if read_back[table] != postgres_marts[table]] == []


def test_production_instance_keeps_runs_in_postgres_and_queues_them(postgres, tmp_path, monkeypatch):
    """deploy/dagster.yaml on a real PostgreSQL server: a run materialized through that
    instance is recorded in PostgreSQL (a second instance from the same file sees it), and
    runs are queued by the QueuedRunCoordinator with the warehouse pool limit of 1."""
    import dagster as dg
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    create_database(postgres, "dagster")
    for name, value in {"DAGSTER_PG_HOST": postgres["CG_PG_HOST"], "DAGSTER_PG_PORT": postgres["CG_PG_PORT"],
                        "DAGSTER_PG_USER": postgres["CG_PG_USER"], "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": "dagster"}.items():
        monkeypatch.setenv(name, value)
    shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")

    @dg.asset
    def probe() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert dg.materialize([probe], instance=instance).success
    with dg.DagsterInstance.from_config(str(tmp_path)) as other_process_view:
        assert other_process_view.get_runs_count() == 1
