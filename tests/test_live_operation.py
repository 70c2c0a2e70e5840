"""Live operation, as a data engineer leaves it running: a real Dagster instance with its
daemon (sensors, declarative automation, run retries) on the tiny synthetic portfolio of
two CROs. Deliveries are dropped into the landing folders and nobody clicks anything:

- a visits delivery with one bad row among 301 reaches marts.kpi_verification_timeliness;
- acme's delivery that fails its gate as a whole waits as held while zenith's new
  delivery of the same feed flows into the marts;
- a run that failed because another process held the warehouse is tried again, and its
  delivery lands exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.warehouse import connect
from tests.conftest import PROJECT_ROOT, write_delivery

AS_OF = date(2026, 11, 16)  # the tiny portfolio's last extract
DROP_STAMP = "20261116T120000Z"  # after every generated delivery, on the as-of date
VISITS = "CroStudyRef,SiteCode,SubjectId,VisitCode,VisitDate,SdvDate,FinanceState,UpdatedAt\n"
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
# a bound on waiting, not a speed target (bench/freshness.py measures that): the suite runs
# two test files at once, so a run may wait for a busy machine
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Site:
    cro_id: str
    study_ref: str
    site_code: str
    cro_visit_code: str
    finance_state: str
    study_id: str
    country_code: str


@dataclass
class Live:
    root: Path
    env: dict[str, str]
    home: Path
    daemon: subprocess.Popen | None = None

    @property
    def warehouse(self) -> Path:
        return Path(self.env["CG_WAREHOUSE"])

    @property
    def landing(self) -> Path:
        return Path(self.env["CG_LANDING_DIR"])

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def quiet(self) -> bool:
        with self.instance() as instance:
            return not instance.get_run_records(dg.RunsFilter(statuses=IN_FLIGHT), limit=1)

    def query(self, sql: str, params=()) -> list[tuple]:
        """Read the warehouse between runs (a reader would make a run's connect fail)."""
        with connect(self.warehouse, read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def wait_for(self, what: str, condition, timeout: float = TIMEOUT_SECONDS):
        """Poll until the instance is quiet and `condition()` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(3)
            if self.quiet():
                try:
                    found = condition()
                except duckdb.Error:  # a run started between the two looks: look again
                    continue
                if found:
                    return found
        raise AssertionError(f"{what} did not happen within {timeout} s; daemon log: {self.root / 'daemon.log'}")


def run(command: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "CG_LANDING_DIR": str(root / "landing"), "CG_ARCHIVE_DIR": str(root / "archive"),
        "CG_WAREHOUSE": str(root / "warehouse.duckdb"), "CG_QUALITY_DOCS_DIR": str(root / "quality_docs"),
        "CG_AS_OF": AS_OF.isoformat(), "CG_REPORTING_CURRENCY": "USD",
    }
    bin_dir = Path(sys.executable).parent
    log = root / "setup.log"
    run([str(bin_dir / "cg-generate"), "--size", "tiny", "--defect-rate", "0", "--out", env["CG_LANDING_DIR"]], env, log)
    run([str(bin_dir / "dagster"), "asset", "materialize", "-m", "orchestration.definitions", "--select", "*"], env, log)
    state = Live(root, env, home)
    state.daemon = subprocess.Popen(
        [str(bin_dir / "dagster-daemon"), "run", "-m", "orchestration.definitions"], cwd=PROJECT_ROOT, env=env,
        stdout=(root / "daemon.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    yield state
    os.killpg(state.daemon.pid, signal.SIGTERM)
    state.daemon.wait(timeout=60)


def ctq_site(live: Live, cro_id: str) -> Site:
    (row,) = live.query(
        """
        select visits.cro_id, visits.cro_study_ref, visits.site_code, visits.cro_visit_code, raw.FinanceState,
               visits.study_id, visits.country_code
        from intermediate.int_cro__visits as visits
        join raw.cro__visits as raw on raw._delivery_id = visits._delivery_id and raw._row_number = visits._row_number
        where visits.cro_id = ? and visits.is_ctq and raw.FinanceState is not null
        order by visits.study_id, visits.country_code, visits.site_code, visits.cro_visit_code
        limit 1
        """,
        [cro_id],
    )
    return Site(*row)


def timeliness(live: Live, site: Site) -> tuple[int, int]:
    (row,) = live.query(
        "select ctq_visits_due, ctq_verified_within_sla from marts.kpi_verification_timeliness where study_id = ? and country_code = ?",
        [site.study_id, site.country_code],
    )
    return row


def visit_rows(site: Site, prefix: str, count: int, visit_date: str = "02-Oct-2026") -> str:
    """`count` CTQ visits of new subjects, due (a month before the as-of date) and verified
    within the SLA (two days after)."""
    return "".join(
        f"{site.study_ref},{site.site_code},{prefix}-{n:04},{site.cro_visit_code},{visit_date},04-Oct-2026,"
        f"{site.finance_state},2026-10-05T10:00:00Z\n"
        for n in range(1, count + 1)
    )


def ledger_status(live: Live, source: str, file_name: str) -> list[tuple]:
    return live.query(
        "select status, rows_loaded, rows_quarantined from audit.delivery_ledger where source = ? and file_name = ?",
        [source, file_name],
    )


def test_a_delivery_with_one_bad_row_among_hundreds_reaches_the_mart(live):
    site = ctq_site(live, "acme")
    due, within = timeliness(live, site)
    name = f"visits__{DROP_STAMP}.csv"

    write_delivery(live.landing, "cro-acme", name, VISITS + visit_rows(site, "LIVE", 300) + visit_rows(site, "BAD", 1, "02/10/2026"))

    assert live.wait_for("the 300 good visits in the mart", lambda: timeliness(live, site) == (due + 300, within + 300))
    assert ledger_status(live, "cro-acme", name) == [("loaded", 300, 1)]


def test_a_held_delivery_of_one_cro_leaves_the_other_cro_flowing(live):
    acme, zenith = ctq_site(live, "acme"), ctq_site(live, "zenith")
    acme_before, zenith_before = timeliness(live, acme), timeliness(live, zenith)
    name = "visits__20261116T130000Z.csv"

    write_delivery(live.landing, "cro-acme", name, VISITS + visit_rows(acme, "HELD", 10) + visit_rows(acme, "WRONG", 10, "02/10/2026"))
    write_delivery(live.landing, "cro-zenith", name, VISITS + visit_rows(zenith, "FLOW", 40))

    assert live.wait_for(
        "zenith's 40 visits in the mart",
        lambda: timeliness(live, zenith) == (zenith_before[0] + 40, zenith_before[1] + 40),
    )
    assert timeliness(live, acme) == acme_before
    assert ledger_status(live, "cro-acme", name) == [("held", 10, 10)]
    assert ledger_status(live, "cro-zenith", name) == [("loaded", 40, 0)]
    assert live.wait_for(
        "the held delivery in marts.held_deliveries",
        lambda: live.query("select status, rows_kept from marts.held_deliveries where source = 'cro-acme' and file_name = ?", [name]),
    ) == [("held", 10)]


def test_a_run_that_failed_on_a_locked_warehouse_is_tried_again_and_lands_once(live):
    zenith = ctq_site(live, "zenith")
    before = timeliness(live, zenith)
    name = "visits__20261116T140000Z.csv"
    with live.instance() as instance:
        failed_before = len(instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])))

    with duckdb.connect(str(live.warehouse)):  # another process holds the warehouse
        write_delivery(live.landing, "cro-zenith", name, VISITS + visit_rows(zenith, "RETRY", 5))
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            with live.instance() as instance:
                failed = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
            if len(failed) > failed_before:
                break
            assert time.monotonic() < deadline, "no run failed on the locked warehouse"
            time.sleep(2)

    assert live.wait_for("the retried delivery in the mart", lambda: timeliness(live, zenith) == (before[0] + 5, before[1] + 5))
    assert ledger_status(live, "cro-zenith", name) == [("loaded", 5, 0)]
    assert live.query("select count(*) from raw.cro__visits where _file_name = ?", [name]) == [(5,)]
