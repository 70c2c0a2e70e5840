"""Freshness latency: how long from a CRO dropping a delivery to the KPI mart reflecting it.

Runs the real thing: `dagster dev` (webserver and daemon) on the demo instance, the
delivery sensors and declarative automation. It drops a new CRO events delivery (one more
subject randomized at an existing site) and polls the GraphQL API until
`marts/kpi_enrollment_vs_plan` has been materialized by a run that started after the
drop, then checks the new subject is counted. Prints the figure and the target.

    make demo                                   # once: the demo warehouse and instance
    .venv/bin/python bench/freshness.py         # then this

Not part of the test suite: it takes a minute or two and measures, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from orchestration.settings import Settings  # noqa: E402
from orchestration.warehouse import connect  # noqa: E402

TARGET_SECONDS = 90
MART = ["marts", "kpi_enrollment_vs_plan"]
MATERIALIZATIONS = """
query Materializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    ... on Asset { assetMaterializations(limit: 1) { timestamp runId } }
  }
}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3333, help="port for dagster dev (default 3333)")
    parser.add_argument("--timeout", type=int, default=600, help="give up after this many seconds (default 600)")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if not settings.warehouse.exists():
        print(f"No warehouse at {settings.warehouse}: run `make demo` first.", file=sys.stderr)
        return 2
    subject = pick_site_for_new_subject(settings.warehouse)
    workspace = Path(tempfile.mkdtemp(prefix="cg-freshness-"))
    # a copy of the demo instance and warehouse, so the benchmark leaves the demo as it was
    home = shutil.copytree(PROJECT_ROOT / "data" / "dagster_home", workspace / "dagster_home")
    warehouse = shutil.copy(settings.warehouse, workspace / "warehouse.duckdb")
    landing = shutil.copytree(settings.landing_dir, workspace / "landing")
    env = {**os.environ, "DAGSTER_HOME": str(home), "CG_WAREHOUSE": str(warehouse), "CG_LANDING_DIR": str(landing),
           "CG_ARCHIVE_DIR": str(workspace / "archive"), "CG_AS_OF": "",
           "CG_QUALITY_DOCS_DIR": str(workspace / "quality_docs")}
    shutil.copytree(PROJECT_ROOT / "data" / "archive", workspace / "archive", dirs_exist_ok=True)

    print(f"Starting dagster dev on port {args.port} (workspace {workspace}) ...", flush=True)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-m", "orchestration.definitions", "-p", str(args.port)],
        cwd=PROJECT_ROOT, env=env, stdout=(workspace / "dagster-dev.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{args.port}/graphql"
        wait_for_webserver(url, args.timeout)
        before = last_materialization(url)
        dropped_at = drop_delivery(Path(landing), subject)
        print(f"Dropped {subject['file']} at {time.strftime('%H:%M:%S', time.localtime(dropped_at))}; waiting for {'/'.join(MART)} ...", flush=True)
        latency = wait_for_refresh(url, before, dropped_at, args.timeout)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    if latency is None:
        print(f"The mart was not refreshed within {args.timeout} s; see {workspace / 'dagster-dev.log'}", file=sys.stderr)
        return 1
    counted = new_subject_counted(Path(warehouse), subject)
    print(f"\nfreshness latency: {latency:.1f} s (target < {TARGET_SECONDS} s: {'met' if latency < TARGET_SECONDS else 'NOT met'}); "
          f"new subject counted in the mart: {'yes' if counted else 'NO'}")
    if not counted:
        print(f"kept the workspace for inspection: {workspace}", file=sys.stderr)
        return 1
    shutil.rmtree(workspace, ignore_errors=True)
    return 0


def pick_site_for_new_subject(warehouse: Path) -> dict:
    with connect(warehouse, read_only=True) as con:
        row = con.execute(
            """
            select sites.cro_id, sites.cro_study_ref, sites.site_code, sites.country_name, sites.study_id,
                   sites.country_code, as_of.as_of_date
            from intermediate.int_cro__sites as sites
            inner join marts.kpi_enrollment_vs_plan as plan
                on plan.study_id = sites.study_id and plan.country_code = sites.country_code
            cross join intermediate.int_as_of_date as as_of
            order by sites.cro_id, sites.cro_study_ref, sites.site_code
            limit 1
            """
        ).fetchall()
    if not row:
        raise SystemExit("The demo warehouse has no enrolling site to add a subject to.")
    cro_id, study_ref, site_code, country_name, study_id, country_code, as_of = row[0]
    return {"cro_id": cro_id, "study_ref": study_ref, "site_code": site_code, "country_name": country_name,
            "study_id": study_id, "country_code": country_code, "as_of": as_of}


def drop_delivery(landing: Path, subject: dict) -> float:
    extract_at = datetime.combine(subject["as_of"] + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=3)
    day = extract_at - timedelta(hours=4)
    event = {
        "event_id": f"BENCH-{int(time.time())}", "type": "SUBJ_RANDOMIZED", "study": subject["study_ref"],
        "country": subject["country_name"], "site": subject["site_code"], "subject": f"{subject['site_code']}-BENCH",
        "at": day.isoformat(), "recorded_at": day.isoformat(), "supersedes": None,
    }
    name = f"events__{extract_at:%Y%m%dT%H%M%SZ}.jsonl"
    subject.update(file=name, month=f"{day:%Y-%m}")
    folder = landing / f"cro-{subject['cro_id']}"
    partial = folder / f"{name}.part"
    partial.write_text(json.dumps(event) + "\n", encoding="utf-8")
    os.replace(partial, folder / name)  # as senders do: upload, then rename
    return time.time()


def wait_for_webserver(url: str, timeout: int) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.post(url, json={"query": "{ version }"}, timeout=5).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise SystemExit("dagster dev did not come up in time")


def last_materialization(url: str) -> str | None:
    response = requests.post(url, json={"query": MATERIALIZATIONS, "variables": {"assetKey": {"path": MART}}}, timeout=10)
    found = response.json()["data"]["assetOrError"].get("assetMaterializations") or []
    return found[0]["timestamp"] if found else None


def wait_for_refresh(url: str, before: str | None, dropped_at: float, timeout: int) -> float | None:
    deadline = dropped_at + timeout
    while time.time() < deadline:
        latest = last_materialization(url)
        if latest and latest != before and float(latest) / 1000 > dropped_at:
            return float(latest) / 1000 - dropped_at
        time.sleep(2)
    return None


def new_subject_counted(warehouse: Path, subject: dict) -> bool:
    with connect(warehouse, read_only=True) as con:
        randomized = con.execute(
            "select count(*) from intermediate.int_cro__events_effective where subject_id = ?",
            [f"{subject['site_code']}-BENCH"],
        ).fetchall()[0][0]
    return randomized == 1


if __name__ == "__main__":
    sys.exit(main())
