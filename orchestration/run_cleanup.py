"""Freeing the `warehouse` pool from runs whose process died.

A run killed with SIGKILL (or by the OOM killer) never reports its end: Dagster keeps it
STARTED and its step keeps its pool slot, so with a pool of one every later writer waits
forever. Dagster's run monitoring frees the slots of runs that have ended only, and the
default run launcher cannot tell whether a run's process is alive. So each run, before
its steps claim slots, and a sensor every 30 seconds, fail the runs holding slots whose
process is gone and free their slots.

A run's process is the one its executor named in its "Executing steps in process (pid:
N)" event, on this machine: the project's instance and warehouse are local files, so
every run of it runs here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType

log = logging.getLogger(__name__)

FREE_SLOTS_INTERVAL_SECONDS = 30


def free_slots_of_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fails every unfinished run that holds or waits for a pool slot but whose process is
    gone, frees its slots, and returns the ids of those runs."""
    freed = []
    storage = instance.event_log_storage
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            continue
        pid, started_at = _worker_process(instance, run_id)
        if pid is None or _is_alive(pid, started_at):
            continue
        message = (
            f"The process of this run (pid {pid}) is gone (killed?) without reporting its end; "
            "the run is marked failed and its pool slots freed. Materialize its assets again."
        )
        instance.report_run_failed(run, message)
        storage.free_concurrency_slots_for_run(run_id)
        log.warning("run %s: %s", run_id, message)
        freed.append(run_id)
    return freed


def _worker_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int | None, float]:
    """The pid of the process executing the run's steps, and when it said so."""
    for record in reversed(instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)):
        metadata = record.dagster_event.engine_event_data.metadata
        if "pid" in metadata:
            return int(metadata["pid"].value), record.timestamp
    return None, 0.0


def _is_alive(pid: int, started_by: float) -> bool:
    """Whether `pid` is a live process that started by `started_by` (epoch seconds); a
    process started later reuses the pid of a dead one."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return _signal_reaches(pid)
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:  # it ended while being read
        return False
    state, start_ticks = fields[0], int(fields[19])
    if state in ("Z", "X"):  # a zombie: dead, not yet reaped by its parent
        return False
    return _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK") <= started_by + 1


def _signal_reaches(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")


class FreeingDeadRunsExecutor(dg.Executor):
    """Dagster's in-process executor, which first frees the slots of dead runs."""

    def __init__(self, inner: dg.Executor):
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        free_slots_of_dead_runs(plan_context.instance)
        return self._inner.execute(plan_context, execution_plan)


@dg.executor(name="in_process_freeing_dead_runs", config_schema=dg.in_process_executor.config_schema)
def in_process_freeing_dead_runs(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Executes all steps in the run's process, after freeing the pool slots of runs whose
    process died."""
    return FreeingDeadRunsExecutor(dg.in_process_executor.executor_creation_fn(init_context))


@dg.sensor(
    name="free_pool_of_dead_runs",
    description="Fails runs whose process died (killed) and frees their slots of the warehouse pool.",
    minimum_interval_seconds=FREE_SLOTS_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def free_pool_of_dead_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    freed = free_slots_of_dead_runs(context.instance)
    return dg.SkipReason(f"freed the pool slots of dead runs {', '.join(freed)}" if freed else "no dead run holds a pool slot")
