"""Benchmark: a generated portfolio built on PostgreSQL through Dagster with the production
`deploy/dagster.yaml`, and its marts compared row by row with the DuckDB build's.

    .venv/bin/python bench/engines.py --size medium     # also: tiny, demo, large

1. Starts a private PostgreSQL server (workshop/engines.py) with two databases: the
   warehouse dbt builds on (`common_ground`) and Dagster's storage (`dagster`).
2. Generates the portfolio into a fresh landing folder (workshop's generator).
3. Makes a DAGSTER_HOME holding `deploy/dagster.yaml` (runs, event logs and schedules in
   that PostgreSQL, the queued run coordinator, the `warehouse` pool at one step, run
   retries), with CG_ENGINE=postgres.
4. Submits the `refresh_all` job (`dagster job launch`): the QueuedRunCoordinator queues
   it, and `dagster-daemon run` dequeues it and launches it in a process of its own, as
   in a shared deployment. The delivery and automation sensors are stopped first, so the
   one run is the whole build (running, they would request runs for the same deliveries).
   The run ingests into the DuckDB landing warehouse, hands raw and audit over to
   PostgreSQL by COPY (`postgres/*` assets), builds and tests dbt on PostgreSQL, runs the
   conformed and mart gates and publishes every audience.
5. Builds the same ingested warehouse (a copy of it) on DuckDB with `dbt build`.
6. Compares every table of `marts`, row by row without the wall-clock columns (to the cent
   and the day), and prints the times and the result; the exit status is 1 on a difference.

Not part of the test suite: it measures, it does not assert.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from workshop.engines import (  # noqa: E402
    PostgresMissing, create_database, duckdb_marts, mart_columns, pg_connect, postgres_bin, postgres_marts, private_postgres,
)
from workshop.synthetic import PortfolioSpec, generate_portfolio  # noqa: E402

BIN = Path(sys.executable).parent
JOB = "refresh_all"
STOPPED_SENSORS = ("sponsor_deliveries", "cro_deliveries", "rebuild_after_new_data")
RUN_TIMEOUT_SECONDS = 3 * 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="medium", choices=["tiny", "demo", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark folder (logs, warehouses, published files)")
    args = parser.parse_args(argv)
    try:
        postgres_bin()
    except PostgresMissing as missing:
        raise SystemExit(str(missing)) from None

    workspace = Path(tempfile.mkdtemp(prefix=f"cg-bench-engines-{args.size}-"))
    print(f"Engine benchmark '{args.size}' on {os.cpu_count()} cores in {workspace}", flush=True)
    figures: list[tuple[str, str, str]] = []
    try:
        with private_postgres() as postgres:
            print(f"PostgreSQL on 127.0.0.1:{postgres['CG_PG_PORT']}", flush=True)
            create_database(postgres, "dagster")
            started = time.perf_counter()
            summary = generate_portfolio(workspace / "landing", PortfolioSpec.for_size(args.size, seed=args.seed),
                                         progress=lambda message: print(f"  {message}", flush=True))
            rows = sum(summary.rows_by_feed.values())
            figures.append(("generate", f"{time.perf_counter() - started:.1f} s", f"{summary.files} files, {rows:,} rows"))

            env = _environment(workspace, postgres)
            figures += _dagster_build(workspace, env)
            figures.append(_duckdb_build(workspace, env))
            started = time.perf_counter()
            differing, compared = _compare(workspace / "duckdb" / "warehouse.duckdb", postgres)
            figures.append(("compare every marts table", f"{time.perf_counter() - started:.1f} s", compared))
    finally:
        if not args.keep:
            shutil.rmtree(workspace, ignore_errors=True)

    print()
    width = max(len(name) for name, _, _ in figures)
    for name, value, note in figures:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print(f"\nresult: {'marts IDENTICAL on PostgreSQL and DuckDB' if not differing else 'marts DIFFER: ' + ', '.join(differing)}")
    print(f"load average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 1 if differing else 0


def _environment(workspace: Path, postgres: dict[str, str]) -> dict[str, str]:
    """The deployment's settings: Dagster's instance in PostgreSQL, dbt on PostgreSQL, and
    the landing, archive and DuckDB landing warehouse in the workspace."""
    home = workspace / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    dagster_storage = {"DAGSTER_PG_HOST": postgres["CG_PG_HOST"], "DAGSTER_PG_PORT": postgres["CG_PG_PORT"],
                       "DAGSTER_PG_USER": postgres["CG_PG_USER"], "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": "dagster"}
    return {
        **os.environ, **postgres, **dagster_storage, "DAGSTER_HOME": str(home), "CG_ENGINE": "postgres", "CG_PG_PASSWORD": "",
        "CG_LANDING_DIR": str(workspace / "landing"), "CG_ARCHIVE_DIR": str(workspace / "archive"),
        "CG_WAREHOUSE": str(workspace / "warehouse.duckdb"), "CG_AS_OF": "", "CG_QUALITY_DOCS_DIR": str(workspace / "quality_docs"),
        "CG_PUBLISH_DIR": str(workspace / "published"), "CG_API_STATE_DIR": str(workspace / "api_state"),
    }


def _dagster(arguments: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as output:
        done = subprocess.run([str(BIN / "dagster"), *arguments, "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
                              stdout=output, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"`dagster {' '.join(arguments)}` failed; see {log}")


def _dagster_build(workspace: Path, env: dict[str, str]) -> list[tuple[str, str, str]]:
    log = workspace / "dagster-cli.log"
    started = time.perf_counter()
    for sensor in STOPPED_SENSORS:
        _dagster(["sensor", "stop", sensor], env, log)
    figures = [("stop the sensors (3 CLI calls)", f"{time.perf_counter() - started:.1f} s", ", ".join(STOPPED_SENSORS))]
    with (workspace / "daemon.log").open("w") as daemon_log:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
                                  stdout=daemon_log, stderr=subprocess.STDOUT)
        try:
            submitted = time.perf_counter()
            _dagster(["job", "launch", "-j", JOB], env, log)
            print(f"submitted `{JOB}` to the queue; the daemon launches it ...", flush=True)
            figures += _follow_run(env, submitted)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    return figures


def _follow_run(env: dict[str, str], submitted: float) -> list[tuple[str, str, str]]:
    """Waits for the run (and its retries) to end, printing each step as it finishes."""
    os.environ.update({name: value for name, value in env.items() if name.startswith(("DAGSTER_",))})
    import dagster as dg
    from dagster._core.events import DagsterEventType

    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records(dg.RunsFilter(job_name=JOB), limit=1)
        run_id, reported, started_at, attempts = record.dagster_run.run_id, set(), None, 1
        print(f"  run {run_id}: {record.dagster_run.status.value} (coordinator: {type(instance.run_coordinator).__name__})", flush=True)
        while True:
            run = instance.get_run_by_id(run_id)
            if started_at is None and run.status != dg.DagsterRunStatus.QUEUED:
                started_at = time.perf_counter()
                print(f"  dequeued after {started_at - submitted:.1f} s: {run.status.value}", flush=True)
            for entry in instance.all_logs(run_id, of_type={DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}):
                event = entry.dagster_event
                if (run_id, event.step_key) not in reported:
                    reported.add((run_id, event.step_key))
                    seconds = getattr(event.event_specific_data, "duration_ms", None)
                    took = f" in {seconds / 1000:.1f} s" if seconds else ""
                    print(f"  {time.perf_counter() - submitted:7.1f} s  {event.step_key}: {event.event_type_value}{took}", flush=True)
            if run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED):
                break
            if run.status == dg.DagsterRunStatus.FAILURE:
                retry = _retry_of(instance, run_id)
                if retry is None:
                    raise SystemExit(f"run {run_id} failed and was not retried: `dagster run` logs in {env['DAGSTER_HOME']}")
                print(f"  run {run_id} failed; the daemon retries it as {retry}", flush=True)
                run_id, attempts = retry, attempts + 1
                continue
            if time.perf_counter() - submitted > RUN_TIMEOUT_SECONDS:
                raise SystemExit(f"run {run_id} still {run.status.value} after {RUN_TIMEOUT_SECONDS} s")
            time.sleep(5)
        ended = time.perf_counter()
        if run.status != dg.DagsterRunStatus.SUCCESS:
            raise SystemExit(f"run {run_id} ended {run.status.value}")
        steps = {}
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS):
            steps[entry.dagster_event.step_key] = entry.dagster_event.event_specific_data.duration_ms / 1000
    return [
        (f"Dagster run on PostgreSQL ({JOB})", f"{ended - submitted:.1f} s",
         f"submitted to the queue until success; {attempts} attempt(s), dequeued after {started_at - submitted:.1f} s"),
        ("  ingest (raw assets, DuckDB)", f"{sum(s for k, s in steps.items() if k.startswith('raw__')):.1f} s", ""),
        ("  hand-over to PostgreSQL (COPY)", f"{steps.get('postgres_handoff', 0):.1f} s", ""),
        ("  dbt build + tests on PostgreSQL", f"{sum(s for k, s in steps.items() if k.endswith('_dbt_assets')):.1f} s", ""),
        ("  conformed and mart gates", f"{sum(s for k, s in steps.items() if k.endswith('_gates')):.1f} s", "rows fetched from PostgreSQL"),
        ("  publish (every audience)", f"{sum(s for k, s in steps.items() if k.startswith('published__')):.1f} s", ""),
    ]


def _retry_of(instance, run_id: str, wait_seconds: int = 120) -> str | None:
    """The run the daemon started to retry `run_id` (run_retries in dagster.yaml)."""
    import dagster as dg

    deadline = time.time() + wait_seconds
    while time.time() < deadline:
        retries = instance.get_run_records(dg.RunsFilter(tags={"dagster/parent_run_id": run_id}), limit=1)
        if retries:
            return retries[0].dagster_run.run_id
        time.sleep(5)
    return None


def _duckdb_build(workspace: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """The same ingested warehouse (raw and audit as the run left them) built on DuckDB."""
    built = workspace / "duckdb" / "warehouse.duckdb"
    built.parent.mkdir()
    shutil.copyfile(workspace / "warehouse.duckdb", built)
    print("building the same warehouse on DuckDB (dbt build) ...", flush=True)
    started = time.perf_counter()
    with (workspace / "duckdb" / "dbt.log").open("w") as output:
        done = subprocess.run(
            [str(BIN / "dbt"), "build", "--project-dir", "dbt_project", "--profiles-dir", "dbt_project",
             "--target-path", str(workspace / "duckdb" / "target")],
            cwd=PROJECT_ROOT, env={**env, "CG_ENGINE": "duckdb", "CG_WAREHOUSE": str(built)}, stdout=output, stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        raise SystemExit(f"dbt build on DuckDB failed; see {workspace / 'duckdb' / 'dbt.log'}")
    return ("dbt build + tests on DuckDB", f"{time.perf_counter() - started:.1f} s", "the same ingested warehouse, copied")


def _compare(duckdb_build: Path, postgres: dict[str, str]) -> tuple[list[str], str]:
    """Every marts table of the DuckDB build against PostgreSQL's, row by row."""
    columns = mart_columns(duckdb_build)
    pg = pg_connect(postgres)
    try:
        with pg.cursor() as cursor:
            cursor.execute("select table_name from information_schema.tables where table_schema = 'marts'")
            on_postgres = {name for (name,) in cursor.fetchall()}
    finally:
        pg.close()
    reference, other = duckdb_marts(duckdb_build, columns), postgres_marts(postgres, columns)
    rows = sum(len(table) for table in reference.values())
    differing = sorted(set(columns) ^ on_postgres) + [table for table in sorted(reference) if reference[table] != other[table]]
    for table in sorted(reference):
        verdict = "same" if reference[table] == other[table] else f"DIFFERENT ({len(other[table])} rows on PostgreSQL)"
        print(f"  marts.{table:<34} {len(reference[table]):>9,} rows  {verdict}", flush=True)
    return differing, f"{len(reference)} tables, {rows:,} rows, {len(differing)} differing"


if __name__ == "__main__":
    sys.exit(main())
