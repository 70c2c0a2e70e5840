"""Freshness latency: how long from a CRO dropping a delivery to the KPI mart reflecting it.

Runs the real thing: `dagster dev` (webserver and daemon) on a copy of the demo instance,
the delivery sensors and declarative automation. Two deliveries, one after the other:

- clean: a CRO events delivery with one more subject randomized at an existing site,
  until `marts/kpi_enrollment_vs_plan` is materialized by the delivery run that ingested it;
- with held rows: a CRO visits delivery of 200 verified critical visits and one row with
  a date in the wrong format (quarantined, the rest flows on), until
  `marts/kpi_verification_timeliness` is.

Each is then checked in the warehouse (the subject counted; the 200 visits counted and
the bad row quarantined). Prints both figures against the target.

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

TARGET_SECONDS = 60
ENROLLMENT_MART = ["marts", "kpi_enrollment_vs_plan"]
TIMELINESS_MART = ["marts", "kpi_verification_timeliness"]
VISITS_WITH_A_BAD_ROW = 200
MATERIALIZATIONS = """
query Materializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    ... on Asset { assetMaterializations(limit: 1) { timestamp runId } }
  }
}
"""
RUN_START = """
query RunStart($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { startTime tags { key value } } }
}
"""
RUNS_IN_FLIGHT = """
{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) { ... on Runs { count } } }
"""
DELIVERY_RUN_TAG = "cg/side"  # set by the delivery sensors on the runs they request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3333, help="port for dagster dev (default 3333)")
    parser.add_argument("--timeout", type=int, default=600, help="give up after this many seconds (default 600)")
    parser.add_argument("--keep", action="store_true", help="keep the workspace and its dagster dev log")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if not settings.warehouse.exists():
        print(f"No warehouse at {settings.warehouse}: run `make demo` first.", file=sys.stderr)
        return 2
    subject = pick_site_for_new_subject(settings.warehouse)
    visits_site = pick_ctq_site(settings.warehouse)
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
    latencies = {}
    try:
        url = f"http://127.0.0.1:{args.port}/graphql"
        wait_for_webserver(url, args.timeout)
        latencies["clean delivery"] = measure(url, ENROLLMENT_MART, lambda: drop_delivery(Path(landing), subject), "events", args.timeout)
        latencies["delivery with held rows"] = measure(
            url, TIMELINESS_MART, lambda: drop_visits_with_a_bad_row(Path(landing), visits_site), "visits", args.timeout
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    checks = {
        "clean delivery": new_subject_counted(Path(warehouse), subject),
        "delivery with held rows": visits_counted(Path(warehouse), visits_site),
    }
    print()
    for name, latency in latencies.items():
        verdict = "timed out" if latency is None else f"{latency:.1f} s (target < {TARGET_SECONDS} s: {'met' if latency < TARGET_SECONDS else 'NOT met'})"
        print(f"freshness latency, {name}: {verdict}; reflected in the warehouse: {'yes' if checks[name] else 'NO'}")
    failed = None in latencies.values() or not all(checks.values())
    if failed or args.keep:
        print(f"kept the workspace: {workspace} (log: {workspace / 'dagster-dev.log'})", file=sys.stderr)
    else:
        shutil.rmtree(workspace, ignore_errors=True)
    return 1 if failed else 0


def measure(url: str, mart: list[str], drop, label: str, timeout: int) -> float | None:
    wait_until_idle(url, timeout)
    before = last_materialization(url, mart)
    dropped_at = drop()
    print(f"Dropped a {label} delivery at {time.strftime('%H:%M:%S', time.localtime(dropped_at))}; waiting for {'/'.join(mart)} ...", flush=True)
    return wait_for_refresh(url, mart, before, dropped_at, timeout)


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


def pick_ctq_site(warehouse: Path) -> dict:
    with connect(warehouse, read_only=True) as con:
        row = con.execute(
            """
            select visits.cro_id, visits.cro_study_ref, visits.site_code, visits.cro_visit_code, raw.FinanceState, as_of.as_of_date
            from intermediate.int_cro__visits as visits
            join raw.cro__visits as raw on raw._delivery_id = visits._delivery_id and raw._row_number = visits._row_number
            cross join intermediate.int_as_of_date as as_of
            where visits.is_ctq and raw.FinanceState is not null
            order by visits.cro_id, visits.cro_study_ref, visits.site_code, visits.cro_visit_code
            limit 1
            """
        ).fetchall()
    if not row:
        raise SystemExit("The demo warehouse has no critical visit to add visits like.")
    cro_id, study_ref, site_code, visit_code, finance_state, as_of = row[0]
    return {"cro_id": cro_id, "study_ref": study_ref, "site_code": site_code, "visit_code": visit_code,
            "finance_state": finance_state, "as_of": as_of}


def drop_visits_with_a_bad_row(landing: Path, site: dict) -> float:
    """Visits of new subjects a month before the as-of date, verified two days later (due,
    within the SLA), and one more whose date is in the wrong format."""
    extract_at = datetime.combine(site["as_of"] + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=5)
    visited, verified = site["as_of"] - timedelta(days=30), site["as_of"] - timedelta(days=28)
    rows = [
        f"{site['study_ref']},{site['site_code']},BENCH-{n:04},{site['visit_code']},{visited:%d-%b-%Y},{verified:%d-%b-%Y},"
        f"{site['finance_state']},{verified:%Y-%m-%d}T10:00:00Z"
        for n in range(1, VISITS_WITH_A_BAD_ROW + 1)
    ]
    rows.append(rows[-1].replace("BENCH-", "BAD-").replace(f"{visited:%d-%b-%Y}", f"{visited:%d/%m/%Y}", 1))
    name = f"visits__{extract_at:%Y%m%dT%H%M%SZ}.csv"
    site["file"] = name
    folder = landing / f"cro-{site['cro_id']}"
    partial = folder / f"{name}.part"
    partial.write_text("CroStudyRef,SiteCode,SubjectId,VisitCode,VisitDate,SdvDate,FinanceState,UpdatedAt\n" + "\n".join(rows) + "\n")
    os.replace(partial, folder / name)
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


def last_materialization(url: str, mart: list[str]) -> tuple[str, str] | None:
    """(timestamp in ms, run id) of the mart's latest materialization."""
    response = requests.post(url, json={"query": MATERIALIZATIONS, "variables": {"assetKey": {"path": mart}}}, timeout=10)
    found = response.json()["data"]["assetOrError"].get("assetMaterializations") or []
    return (found[0]["timestamp"], found[0]["runId"]) if found else None


def wait_until_idle(url: str, timeout: int) -> None:
    """Until no run is queued or under way, so each figure starts from a quiet instance."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        response = requests.post(url, json={"query": RUNS_IN_FLIGHT}, timeout=10)
        if response.json()["data"]["runsOrError"]["count"] == 0:
            return
        time.sleep(2)
    raise SystemExit("runs were still under way after the timeout")


def started_for_the_drop(url: str, run_id: str, dropped_at: float) -> bool:
    """A delivery run that started after the drop: it ingests what was pending then,
    the dropped delivery included (a run already under way cannot have read it)."""
    response = requests.post(url, json={"query": RUN_START, "variables": {"runId": run_id}}, timeout=10)
    run = response.json()["data"]["runOrError"]
    return (run.get("startTime") or 0.0) > dropped_at and any(tag["key"] == DELIVERY_RUN_TAG for tag in run.get("tags", []))


def wait_for_refresh(url: str, mart: list[str], before, dropped_at: float, timeout: int) -> float | None:
    """Seconds from the drop to the mart's materialization by the run that ingested it."""
    deadline = dropped_at + timeout
    while time.time() < deadline:
        latest = last_materialization(url, mart)
        if latest and latest != before and started_for_the_drop(url, latest[1], dropped_at):
            return float(latest[0]) / 1000 - dropped_at
        time.sleep(2)
    return None


def new_subject_counted(warehouse: Path, subject: dict) -> bool:
    with connect(warehouse, read_only=True) as con:
        randomized = con.execute(
            "select count(*) from intermediate.int_cro__events_effective where subject_id = ?",
            [f"{subject['site_code']}-BENCH"],
        ).fetchall()[0][0]
    return randomized == 1


def visits_counted(warehouse: Path, site: dict) -> bool:
    with connect(warehouse, read_only=True) as con:
        counted = con.execute("select count(*) from intermediate.int_cro__visits where subject_id like 'BENCH-%'").fetchall()[0][0]
        held = con.execute("select count(*) from audit.ingest_quarantine where file_name = ?", [site["file"]]).fetchall()[0][0]
    return (counted, held) == (VISITS_WITH_A_BAD_ROW, 1)


if __name__ == "__main__":
    sys.exit(main())
