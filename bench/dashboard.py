"""Benchmark: the sponsor dashboard on a portfolio of a named size.

    .venv/bin/python bench/dashboard.py --size large       # also: demo, medium
    .venv/bin/python bench/dashboard.py --publish-dir data/published   # an existing build

Unless given a publish folder, it generates the portfolio and builds it in one headless
Dagster run (as bench/run.py does; `large` takes several minutes). Then it starts the real
`cg-dashboard --audience sponsor` on a free port and, in the Debian chromium driven by
Playwright, times: the server's start-up (until it answers), the Portfolio page (from
opening its URL to the script's run finished and the table shown, a first session, so
nothing is cached), the Study page reached from the Portfolio through the navigation, and
switching the study filter. Each rendering is timed three times (a new browser page each
time for the Portfolio) and the median printed with the issue's targets, each run's figure
(the first is the one no earlier page view has read its data for: the server keeps each
build's query results) and the load average before and after.

Not part of the test suite: it measures, it does not assert.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(BENCH))

from run import _environment, materialize  # noqa: E402

from workshop.synthetic import PortfolioSpec, generate_portfolio  # noqa: E402

TARGETS = {"portfolio page": 3.0, "study page": 1.0, "study filter switched": 1.0}  # seconds, from the dashboard issue
CHROMIUM = "/usr/bin/chromium"
REPEATS = 3


def build(size: str, workspace: Path) -> Path:
    env = _environment(workspace)
    print(f"generating '{size}' in {workspace} ...", flush=True)
    generate_portfolio(workspace / "landing", PortfolioSpec.for_size(size, seed=7), progress=lambda message: print(message, flush=True))
    print("building everything in one Dagster run ...", flush=True)
    seconds = materialize("*", env, workspace / "full-build.log")
    print(f"built and published in {seconds:.0f} s", flush=True)
    return workspace / "published"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_dashboard(publish_dir: Path, port: int) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cg-dashboard"), "--audience", "sponsor", "--port", str(port), "--publish-dir", str(publish_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    while True:
        if server.poll() is not None:
            raise SystemExit(f"cg-dashboard exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return server, time.perf_counter() - started
        except OSError:
            time.sleep(0.1)


def wait_for_run(page) -> None:
    """Until the script's run finished and every element is drawn (no skeleton left)."""
    from playwright.sync_api import expect

    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", state="attached", timeout=120_000)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=120_000)


def timed(action, page) -> float:
    started = time.perf_counter()
    action()
    page.wait_for_timeout(50)  # the rerun message reaches the browser before it reports running
    wait_for_run(page)
    page.locator("table.cg-table").first.wait_for(timeout=120_000)
    return time.perf_counter() - started


def measure(url: str) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {name: [] for name in TARGETS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        for _ in range(REPEATS):
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            figures["portfolio page"].append(timed(lambda: page.goto(f"{url}/"), page))
            figures["study page"].append(timed(lambda: page.get_by_test_id("stSidebarNav").get_by_text("Study").click(), page))
            selectbox = page.get_by_test_id("stSelectbox").filter(has_text="Study").locator("input")
            selectbox.click()
            options = page.get_by_role("option")
            last = options.nth(options.count() - 1)
            figures["study filter switched"].append(timed(last.click, page))
            page.context.close()
        browser.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="medium", choices=["tiny", "demo", "medium", "large"])
    parser.add_argument("--publish-dir", type=Path, help="measure this published folder instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark folder")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no {CHROMIUM}: `apt-get install chromium` (make test installs it)")

    workspace = None
    publish_dir = args.publish_dir.resolve() if args.publish_dir else None
    if publish_dir is None:
        workspace = Path(tempfile.mkdtemp(prefix=f"cg-bench-dashboard-{args.size}-"))
        publish_dir = build(args.size, workspace)
    sponsor = publish_dir / "sponsor.duckdb"
    port = free_port()
    load_before = os.getloadavg()
    server, startup = start_dashboard(publish_dir, port)
    try:
        figures = measure(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    load_after = os.getloadavg()

    print(f"\nSponsor dashboard of {publish_dir} ({sponsor.stat().st_size / 2**20:,.0f} MiB), {os.cpu_count()} cores, "
          f"median of {REPEATS}:")
    print(f"{'server start-up (until it answers)':<36}  {startup:>7.2f} s")
    for name, seconds in figures.items():
        median = statistics.median(seconds)
        verdict = "met" if median < TARGETS[name] else "NOT met"
        print(f"{name:<36}  {median:>7.2f} s  target < {TARGETS[name]:.0f} s: {verdict}  (runs: {', '.join(f'{s:.2f}' for s in seconds)})")
    print(f"load average before: {' '.join(f'{load:.2f}' for load in load_before)}, "
          f"after: {' '.join(f'{load:.2f}' for load in load_after)} (1, 5, 15 minutes)")
    if workspace and not args.keep:
        shutil.rmtree(workspace, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
