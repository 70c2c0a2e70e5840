"""One writer at a time: two deliveries arriving together, each ingested by its own run
of the real `dagster` CLI against one instance, both land, one after the other, with no
lock error. The project's dagster.yaml puts every warehouse writer in a pool of one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from orchestration.run_cleanup import free_pool_of_dead_runs
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, write_delivery

DAGSTER = str(Path(sys.executable).parent / "dagster")
SITES_HEADER = "CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\n"


def start_run(feed_key: str, env: dict[str, str], output: int = subprocess.PIPE) -> subprocess.Popen:
    """The run's output goes to `output`: a pipe the caller must read, or DEVNULL for a
    run nobody waits on (an unread pipe that fills up would stall it)."""
    return subprocess.Popen(
        [DAGSTER, "asset", "materialize", "-m", "orchestration.definitions", "--select", feed_key],
        cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True,
    )


def step_window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    records = instance.all_logs(run_id)
    started = [r.timestamp for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_START"]
    ended = [r.timestamp for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_SUCCESS"]
    return min(started), max(ended)


def test_two_deliveries_arriving_together_are_ingested_one_after_the_other(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    landing = tmp_path / "landing"
    # big enough that the two loads would overlap if nothing kept them apart
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv",
                   SITES_HEADER + "".join(f"S1,SITE-{n},{n:06d},France,Selected\n" for n in range(400_000)))
    write_delivery(landing, "cro-zenith", "visits__20261105T030000Z.csv",
                   "CroStudyRef,SiteCode,SubjectId,VisitCode,VisitDate,SdvDate,FinanceState,UpdatedAt\n"
                   + "".join(f"Z1,Z01001,Z01001-{n:06d},V01,03-Nov-2026,,NE,2026-11-03T10:00:00-05:00\n" for n in range(400_000)))
    env = {**os.environ, "DAGSTER_HOME": str(home), "CG_LANDING_DIR": str(landing),
           "CG_ARCHIVE_DIR": str(tmp_path / "archive"), "CG_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
           "CG_QUALITY_DOCS_DIR": str(tmp_path / "quality_docs")}

    with dg.DagsterInstance.from_config(str(home)):
        pass  # the instance exists before deliveries arrive, as under `dagster dev`
    runs = [start_run("raw/cro__sites", env), start_run("raw/cro__visits", env)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]

    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-3000:]
        assert "Could not set lock" not in output  # DuckDB's error for a second writer
        assert "is open for writing in process" not in output  # our explanation of that error
    with connect(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select feed, status, rows_loaded from audit.delivery_ledger order by feed").fetchall() == [
            ("sites", "loaded", 400_000), ("visits", "loaded", 400_000),
        ]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        windows = sorted(step_window(instance, record.dagster_run.run_id) for record in instance.get_run_records())
    assert len(windows) == 2
    (first_start, first_end), (second_start, _) = windows
    assert first_end <= second_start  # the pool admitted the second writer only after the first finished


def test_a_run_killed_mid_ingest_does_not_block_the_next(tmp_path):
    """A run killed with SIGKILL never reports its end and keeps its slot of the
    `warehouse` pool; the next run fails it, frees the slot and completes."""
    env, killed_run_id = kill_a_run_holding_the_pool(tmp_path)

    rerun = start_run("raw/cro__sites", env)
    try:
        output = rerun.communicate(timeout=300)[0]
    finally:
        rerun.kill()  # if it waits forever on the pool

    assert rerun.returncode == 0, output[-3000:]
    with connect(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select status, rows_loaded from audit.delivery_ledger").fetchall() == [("loaded", 100_000)]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert instance.get_run_by_id(killed_run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []


def test_the_daemon_frees_the_pool_of_a_killed_run(tmp_path):
    """Without a next run, the sensor `free_pool_of_dead_runs` (which the daemon runs
    every 30 s) frees the slot."""
    env, killed_run_id = kill_a_run_holding_the_pool(tmp_path)

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        skip = free_pool_of_dead_runs(dg.build_sensor_context(instance=instance))

        assert skip.skip_message == f"freed the pool slots of dead runs {killed_run_id}"
        assert instance.get_run_by_id(killed_run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []
        assert free_pool_of_dead_runs(dg.build_sensor_context(instance=instance)).skip_message == "no dead run holds a pool slot"


def kill_a_run_holding_the_pool(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The environment of a real instance (the project's dagster.yaml) and the id of a run
    killed with SIGKILL while it held the warehouse pool's slot."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    landing = tmp_path / "landing"
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv",
                   SITES_HEADER + "".join(f"S1,SITE-{n},{n:06d},France,Selected\n" for n in range(100_000)))
    env = {**os.environ, "DAGSTER_HOME": str(home), "CG_LANDING_DIR": str(landing),
           "CG_ARCHIVE_DIR": str(tmp_path / "archive"), "CG_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
           "CG_QUALITY_DOCS_DIR": str(tmp_path / "quality_docs")}
    with dg.DagsterInstance.from_config(str(home)):
        pass
    killed = start_run("raw/cro__sites", env, output=subprocess.DEVNULL)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        killed_run_id = wait_for_a_claimed_slot(instance)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    return env, killed_run_id


def wait_for_a_claimed_slot(instance: dg.DagsterInstance, timeout: float = 300) -> str:
    """A bound on waiting for the run to start, load the code location and claim the slot
    (about 25 s alone; longer while the other test worker keeps the machine busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claimed = instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots
        if claimed:
            return claimed[0].run_id
        time.sleep(0.2)
    raise AssertionError(f"no run claimed a slot of the warehouse pool within {timeout} s")
