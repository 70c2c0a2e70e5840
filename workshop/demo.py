"""`cg-demo`: generate demo feeds (if the landing folder is empty), run every asset
through a real Dagster instance, and print what came out."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from workshop.report import published_files, summary
from orchestration.settings import PROJECT_ROOT, Settings

STEP_FINISHED = re.compile(r" - (?P<step>[\w.]+) - (?P<event>STEP_SUCCESS|STEP_FAILURE|STEP_SKIPPED) - ")
OUTCOMES = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}

DEFAULT_DAGSTER_HOME = PROJECT_ROOT / "data" / "dagster_home"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cg-demo",
        description=(
            "Run Common Ground end to end on the embedded default: synthetic demo deliveries in "
            "$CG_LANDING_DIR (generated when the folder is empty), ingested and modelled into the "
            "DuckDB file $CG_WAREHOUSE through the Dagster instance in $DAGSTER_HOME."
        ),
    )
    parser.add_argument("--size", default="demo", choices=["tiny", "demo", "medium", "large"], help="portfolio size to generate (default: demo)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default: 7)")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    env = {**os.environ, "DAGSTER_HOME": os.environ.get("DAGSTER_HOME") or str(DEFAULT_DAGSTER_HOME)}
    started = time.perf_counter()

    if _is_empty(settings.landing_dir):
        _generate(settings.landing_dir, args.size, args.seed)
    else:
        print(f"Using the deliveries already in {settings.landing_dir}")

    if not _materialize_everything(env):
        return 1
    print()
    print(summary(settings.warehouse))
    print()
    print(f"Done in {time.perf_counter() - started:.0f} s. Explore the assets, runs and checks in the Dagster UI:")
    print(f"  DAGSTER_HOME={env['DAGSTER_HOME']} {Path(sys.executable).parent / 'dagster'} dev")
    print()
    print(published_files(settings.publish_dir))
    return 0


def _is_empty(folder: Path) -> bool:
    return not folder.exists() or not any(folder.rglob("*__*"))


def _generate(landing_dir: Path, size: str, seed: int) -> None:
    from workshop.synthetic import PortfolioSpec, generate_portfolio

    print(f"Generating the {size} portfolio (seed {seed}) into {landing_dir} ...", flush=True)
    result = generate_portfolio(landing_dir, PortfolioSpec.for_size(size, seed=seed))
    print(result.format_table(), flush=True)


def _materialize_everything(env: dict[str, str]) -> bool:
    log_dir = Path(env["DAGSTER_HOME"]).parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "demo-run.log"
    command = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "orchestration.definitions", "--select", "*"]
    print(f"Materializing every asset through Dagster (log: {log_path}) ...", flush=True)
    started = time.perf_counter()
    with log_path.open("w") as log, subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
    ) as run:
        for line in run.stdout:
            log.write(line)
            _print_step_progress(line, started)
    if run.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        print("\n".join(tail), file=sys.stderr)
        print(f"\nThe Dagster run failed (exit {run.returncode}); the full log is {log_path}.", file=sys.stderr)
        return False
    print(f"Materialized in {time.perf_counter() - started:.0f} s.")
    return True


def _print_step_progress(log_line: str, started: float) -> None:
    """One line per finished step of the run, from Dagster's own event log lines."""
    step = STEP_FINISHED.search(log_line)
    if step:
        print(f"  {time.perf_counter() - started:5.0f} s  {step['step']}: {OUTCOMES[step['event']]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
