"""Benchmark: the whole pipeline on a portfolio of a named size, against a floor.

    .venv/bin/python bench/run.py --size demo --incremental    # also: tiny, medium, large, xlarge

For the size it generates a portfolio into a fresh folder, then builds everything in one
headless run of the real `dagster` CLI into a fresh warehouse and Dagster instance, as
`make demo` does, and prints a table: the run's wall time (the pipeline's figure, Dagster
start-up included) and, from its log, the time of each stage (ingest: the raw assets with
their contract gates; dbt: seeds, staging, conformed layer, marts and their tests; the
conformed and mart gates; publishing every audience's files, and its share of the run),
ingest rows per second, peak memory (RSS summed over the whole process tree, sampled) and
the sizes of the warehouse and of the published files. The floor is the same files loaded with
DuckDB's own readers and two KPI queries run directly, with no orchestration, gates or
dbt; the table ends with the pipeline-to-floor ratio. With --incremental it then drops
one more weekly delivery from every source and times the run until the marts are current.
Seconds and peak memory are also given per million rows delivered, so sizes compare
(does cost grow linearly?), and the ten slowest dbt steps of each run are listed from
dbt's `run_results.json`. `xlarge` (1 500 studies, about 45 million rows) is for running
by hand: it needs about an hour and tens of GiB of disk.

Not part of the test suite: it measures, it does not assert.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from orchestration.contract import load_contract  # noqa: E402
from workshop.synthetic import PortfolioSpec, generate_portfolio  # noqa: E402

TARGETS = {  # (stage, size): seconds, from the performance issue (#14)
    ("pipeline", "demo"): 30,
    ("incremental", "large"): 30,
}
PEAK_MEMORY_TARGET_GIB = {"large": 4}
FLOOR_RATIO_TARGET = {"large": 3}
DBT_TARGET_DIR = PROJECT_ROOT / "dbt_project" / "target"
SLOWEST_DBT_STEPS = 10
PUBLISH_SHARE_TARGET = 10  # percent of the run: publishing every audience's files, from the sharing issue


class PeakMemory:
    """Samples the RSS of this process and all its descendants every 0.2 s."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(os.getpid()))
            time.sleep(0.2)


def _tree_rss(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(stat[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def materialize(selection: str, env: dict[str, str], log: Path) -> float:
    """Wall seconds of one `dagster asset materialize` run, its output in `log`."""
    started = time.perf_counter()
    with log.open("w") as output:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "orchestration.definitions", "--select", selection],
            cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise SystemExit(f"the run for {selection!r} failed; see {log}")
    return time.perf_counter() - started


def floor(landing: Path, database: Path) -> tuple[float, int]:
    """The same files through DuckDB's readers and two KPI queries, nothing else."""
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    rows = 0
    for feed in load_contract().feeds:
        pattern = str(landing / ("sponsor" if feed.side == "sponsor" else "cro-*") / f"{feed.name}__*.{feed.extension}")
        reader = (f"read_json('{pattern}', format = 'newline_delimited', union_by_name = true, ignore_errors = true)"
                  if feed.format == "jsonl" else f"read_csv('{pattern}', all_varchar = true, union_by_name = true, ignore_errors = true, filename = true)")
        con.execute(f"create table {feed.table} as select * from {reader}")
        rows += con.execute(f"select count(*) from {feed.table}").fetchall()[0][0]
    con.execute("""
        create table startup as
        select study, country, min(case when "type" = 'CTRY_READY' then cast("at" as date) end) as ready,
               min(case when "type" = 'SITE_SIV' then cast("at" as date) end) as first_site
        from cro__events group by study, country
    """)
    con.execute("""
        create table verification as
        select "CroStudyRef", "SiteCode",
               count(*) filter (where try_strptime("SdvDate", '%d-%b-%Y') - try_strptime("VisitDate", '%d-%b-%Y') <= interval 14 day) as within,
               count(*) as visits
        from (select * from cro__visits qualify row_number() over (
              partition by "CroStudyRef", "SiteCode", "SubjectId", "VisitCode" order by "UpdatedAt" desc) = 1)
        group by all
    """)
    con.close()
    return time.perf_counter() - started, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="demo", choices=["tiny", "demo", "medium", "large", "xlarge"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--incremental", action="store_true", help="then time one more weekly delivery from every source")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark folder")
    args = parser.parse_args(argv)

    workspace = Path(tempfile.mkdtemp(prefix=f"cg-bench-{args.size}-"))
    env = _environment(workspace)
    spec = PortfolioSpec.for_size(args.size, seed=args.seed)
    if args.incremental:  # one more week, held back until the incremental step
        spec = dataclasses.replace(spec, weeks=spec.weeks + 1)
    figures: list[tuple[str, str, str]] = []
    print(f"Benchmark '{args.size}' on {os.cpu_count()} cores in {workspace}", flush=True)

    with PeakMemory() as generation_memory:
        started = time.perf_counter()
        summary = generate_portfolio(workspace / "landing", spec, progress=lambda message: print(message, flush=True))
        generate_seconds = time.perf_counter() - started
    held_back = _hold_back_last_week(workspace, spec) if args.incremental else None
    rows = sum(summary.rows_by_feed.values())
    figures.append(("generate (not part of the pipeline)", f"{generate_seconds:.1f} s",
                    f"{summary.files} files, {summary.bytes / 1e6:,.0f} MB, {rows:,} rows; "
                    f"peak {generation_memory.peak / 2**30:.2f} GiB"))

    millions = rows / 1e6
    slowest = {}
    with PeakMemory() as memory:
        print("generated; building everything in one Dagster run ...", flush=True)
        started = time.time()
        pipeline = materialize("*", env, workspace / "full-build.log")
        slowest["full build"] = _slowest_dbt_steps(started)
        figures += _stage_figures(workspace / "full-build.log", rows)
        figures.append(("pipeline (one run, start-up included)", f"{pipeline:.1f} s", _target("pipeline", args.size, pipeline)))
        figures.append(("  per million rows", f"{pipeline / millions:.1f} s", ""))
        figures.append(_publish_figure(workspace / "full-build.log", pipeline))
        if args.incremental:
            print("built; one more week arrives ...", flush=True)
            started = time.time()
            incremental = _incremental(workspace, held_back, env, workspace / "incremental.log")
            slowest["incremental week"] = _slowest_dbt_steps(started)
            figures.append(("incremental week", f"{incremental:.1f} s", _target("incremental", args.size, incremental)))
            figures += _stage_figures(workspace / "incremental.log", None, indent="  ")
            figures.append(_publish_figure(workspace / "incremental.log", incremental))
    peak_gib = memory.peak / 2**30
    target = PEAK_MEMORY_TARGET_GIB.get(args.size)
    figures.append(("peak memory (tree RSS)", f"{peak_gib:.2f} GiB", f"target < {target} GiB: {'met' if peak_gib < target else 'NOT met'}" if target else ""))
    figures.append(("  per million rows", f"{peak_gib / millions:.3f} GiB", ""))
    figures.append(("warehouse size", f"{(workspace / 'warehouse.duckdb').stat().st_size / 2**20:,.0f} MiB", ""))
    published = sum(path.stat().st_size for path in (workspace / "published" / "builds").rglob("*") if path.is_file())
    figures.append(("published files (every build)", f"{published / 2**20:,.0f} MiB", ""))

    print("pipeline done; measuring the floor ...", flush=True)
    floor_seconds, floor_rows = floor(workspace / "landing", workspace / "floor.duckdb")
    figures.append(("floor (DuckDB only)", f"{floor_seconds:.1f} s", f"{floor_rows:,} rows read"))
    ratio = pipeline / floor_seconds
    ratio_target = FLOOR_RATIO_TARGET.get(args.size)
    figures.append(("pipeline / floor", f"{ratio:.1f}x",
                    f"target < {ratio_target}x: {'met' if ratio < ratio_target else 'NOT met'}" if ratio_target else ""))

    print()
    width = max(len(name) for name, _, _ in figures)
    for name, value, note in figures:
        print(f"{name:<{width}}  {value:>12}  {note}")
    for run, steps in slowest.items():
        print(f"\nslowest dbt steps, {run} (run_results.json):")
        for seconds, node in steps:
            print(f"  {seconds:8.2f} s  {node}")
    print(f"\nload average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    if not args.keep:
        shutil.rmtree(workspace, ignore_errors=True)
    return 0


def _environment(workspace: Path) -> dict[str, str]:
    """A fresh Dagster instance and warehouse in the workspace."""
    (workspace / "dagster_home").mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", workspace / "dagster_home")
    return {**os.environ, "DAGSTER_HOME": str(workspace / "dagster_home"), "CG_LANDING_DIR": str(workspace / "landing"),
            "CG_ARCHIVE_DIR": str(workspace / "archive"), "CG_WAREHOUSE": str(workspace / "warehouse.duckdb"), "CG_AS_OF": "",
            "CG_QUALITY_DOCS_DIR": str(workspace / "quality_docs"), "CG_PUBLISH_DIR": str(workspace / "published")}


def _hold_back_last_week(workspace: Path, spec: PortfolioSpec) -> Path:
    held = workspace / "next_week"
    for path in sorted((workspace / "landing").rglob(f"*__{spec.end_date:%Y%m%d}T*")):
        (held / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.move(path, held / path.parent.name / path.name)
    return held


def _incremental(workspace: Path, held: Path, env: dict[str, str], log: Path) -> float:
    """The held-back weekly extract from every source arrives; ingest and rebuild."""
    for path in held.rglob("*__*"):
        shutil.move(path, workspace / "landing" / path.parent.name / path.name)
    return materialize("*", env, log)


def _slowest_dbt_steps(since: float) -> list[tuple[float, str]]:
    """The slowest models, tests and seeds of the dbt invocations that finished after `since`
    (dagster-dbt writes each invocation's run_results.json in its own target folder)."""
    import json

    timings = []
    for path in DBT_TARGET_DIR.glob("*/run_results.json"):
        if path.stat().st_mtime < since:
            continue
        for result in json.loads(path.read_text())["results"]:
            timings.append((float(result["execution_time"]), result["unique_id"]))
    return sorted(timings, reverse=True)[:SLOWEST_DBT_STEPS]


def _stage_figures(log: Path, rows: int | None, indent: str = "") -> list[tuple[str, str, str]]:
    """Stage times of one run, from the durations Dagster logs for its steps; with the rows
    it delivered (the full build), also per row."""
    text = log.read_text(errors="replace")
    steps = _step_seconds(log)
    ingest = sum(seconds for name, seconds in steps.items() if name.startswith("raw__"))
    dbt = sum(seconds for name, seconds in steps.items() if name.endswith("_dbt_assets"))
    model_gates = sum(seconds for name, seconds in steps.items() if name.endswith("_gates"))
    contract_gates = sum(float(seconds) for seconds in re.findall(r"contract gate (?:passed|FAILED) in ([0-9.]+) s", text))
    return [
        (f"{indent}ingest (raw assets)", f"{ingest:.1f} s", f"{rows / ingest:,.0f} rows/s" if rows and ingest else ""),
        (f"{indent}  of which contract gates (GX)", f"{contract_gates:.1f} s",
         f"{contract_gates / (rows / 1e6):.2f} s per million rows" if rows else ""),
        (f"{indent}dbt build + tests", f"{dbt:.1f} s", ""),
        (f"{indent}conformed and mart gates (GX)", f"{model_gates:.1f} s", ""),
    ]


def _publish_figure(log: Path, run_seconds: float) -> tuple[str, str, str]:
    """The publish steps of a run (every audience's files), against the run's whole time."""
    steps = _step_seconds(log)
    publish = sum(seconds for name, seconds in steps.items() if name.startswith("published__"))
    share = 100 * publish / run_seconds
    return ("  publish (every audience)", f"{publish:.1f} s",
            f"{share:.1f}% of the run; target < {PUBLISH_SHARE_TARGET}%: {'met' if share < PUBLISH_SHARE_TARGET else 'NOT met'}")


def _step_seconds(log: Path) -> dict[str, float]:
    """The duration Dagster logs for each step of a run."""
    text = log.read_text(errors="replace")
    return {
        name: _seconds(duration)
        for name, duration in re.findall(r'Finished execution of step "([a-z0-9_]+)" in ([0-9.hms]+?)\.?\n', text)
    }


def _seconds(duration: str) -> float:
    """Dagster's durations: `850ms`, `12.5s`, `1m12s`, `1h2m`."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(amount) * units[unit] for amount, unit in re.findall(r"([0-9.]+)(ms|h|m|s)", duration))


def _target(stage: str, size: str, seconds: float) -> str:
    """The issue's target for this stage and size, and whether it is met."""
    target = TARGETS.get((stage, size))
    if target is None:
        return ""
    return f"target < {target} s: {'met' if seconds < target else 'NOT met'}"


if __name__ == "__main__":
    sys.exit(main())
