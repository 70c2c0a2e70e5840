"""The study dashboards in a real browser: the real `cg-dashboard` (Streamlit) served on
127.0.0.1 from the published views of the dashboard fixture (tests/fixtures/dashboard/
README.md: the KPI fixture's ST-1 of acme plus ST-2 of zenith, every InternalCost a
canary), driven by Playwright in the Debian chromium. Every figure expected is worked out
in the fixture READMEs; each test cites the arithmetic. Screenshots of each page go to
docs/screenshots/."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import expect, sync_playwright

from conftest import PROJECT_ROOT, run_pipeline
from dashboard_fixture import build_published

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
CG_DASHBOARD = Path(sys.executable).parent / "cg-dashboard"
# page name: its path (a dashboard's first page is served at the root)
PAGES = {"sponsor": {"portfolio": "", "study": "study"}, "cro-acme": {"portfolio": "", "study": "study"},
         "governance": {"data-quality": ""}}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return build_published(tmp_path_factory.mktemp("dashboard"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"cg-dashboard exited with {server.returncode}: {server.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"cg-dashboard did not answer at {url} within {timeout} s")


@pytest.fixture(scope="module")
def servers(published):
    """One real dashboard server per audience, started when a test first asks for it."""
    settings, _ = published
    running: dict[str, tuple[str, subprocess.Popen]] = {}

    def url_of(audience: str) -> str:
        if audience not in running:
            port = free_port()
            server = subprocess.Popen(
                [str(CG_DASHBOARD), "--audience", audience, "--port", str(port), "--publish-dir", str(settings.publish_dir)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            running[audience] = (f"http://127.0.0.1:{port}", server)
            wait_until_healthy(running[audience][0], server)
        return running[audience][0]

    yield url_of
    for _, server in running.values():
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run `make test`, which installs the Debian chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


def wait_for_run(page) -> None:
    """Until Streamlit is connected, has finished running the script and has drawn every
    element (an element whose code is still loading shows a skeleton)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", state="attached", timeout=30_000)
    page.wait_for_timeout(200)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", state="attached", timeout=30_000)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=30_000)


def open_page(page, url: str, path: str) -> None:
    page.goto(f"{url}/{path}")
    # the header every page starts with: the script has run at least that far
    expect(page.get_by_test_id("stMain")).to_contain_text("data as of", timeout=60_000)
    wait_for_run(page)


def choose(page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).locator("input").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_timeout(300)
    wait_for_run(page)


def metric(page, label: str) -> str:
    labelled = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return page.get_by_test_id("stMetric").filter(has=labelled).get_by_test_id("stMetricValue").inner_text()


def headline(page) -> dict[str, str]:
    labels = ["Sites ready / planned", "Randomized / planned (latest month)", "Enrollment vs plan",
              "CTQ visits verified within SLA", "Budget burn (study)", "Unpaid over 30 days (USD)",
              "Open important deviations", "Open high or critical risks", "Milestone disagreements"]
    return {label: metric(page, label) for label in labels}


def table_column(page, title: str, column: int) -> list[str]:
    """The cells of one column of the table under the subheader `title`."""
    table = page.locator(f"xpath=//h3[normalize-space()='{title}']/following::table[@class='cg-table'][1]")
    return [cell.strip() for cell in table.locator(f"tbody tr td:nth-of-type({column})").all_inner_texts()]


def screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the window grows to it."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": height})
    page.wait_for_timeout(1000)  # the charts draw again at the new size
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=30_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path)


@pytest.mark.parametrize("audience, name, path", [(audience, name, path) for audience, paths in PAGES.items() for name, path in paths.items()])
def test_each_page_loads_without_error_and_shows_the_as_of_date_and_build_time(servers, published, page, audience, name, path):
    open_page(page, servers(audience), path)
    assert page.get_by_test_id("stException").all_inner_texts() == []
    text = page.get_by_test_id("stMain").inner_text()
    # CG_AS_OF of the fixture; the build time is the publish run's, in UTC
    assert f"{audience} · data as of 2026-06-30 · built " in text
    assert re.search(r"built \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", text)
    assert page.locator("table.cg-table").count() >= 1
    assert page.get_by_test_id("stDownloadButton").count() == page.locator("table.cg-table").count() + page.get_by_test_id("stAlert").count()
    screenshot(page, SCREENSHOTS / f"{audience}-{name}.png")


def test_the_study_page_shows_the_hand_worked_figures_of_a_study_and_a_country(servers, page):
    open_page(page, servers("sponsor"), "study")
    assert page.get_by_role("heading", name="Study ST-1").count() == 1
    # ST-1, sponsor view (tests/fixtures/kpi/README.md, tests/test_kpi_marts.py):
    # sites ready FR 2 + DE 0 + PL 0 of planned 2 + 1 + 0; randomized by June FR 2 of 3, DE 0 of 1,
    # PL 0 of 0 -> 2 of 4 = 50 %; CTQ visits within SLA FR 1 of 3 due; burn 4068 / 4500 = 90.4 %;
    # unpaid over 30 days: P3 339.00 in 31-60; milestone disagreements: FR COUNTRY_READY
    # DATE_MISMATCH and the CRO-only FPIs of 0101 and 0102 -> 3.
    assert headline(page) == {
        "Sites ready / planned": "2 / 3", "Randomized / planned (latest month)": "2 / 4", "Enrollment vs plan": "50.0%",
        "CTQ visits verified within SLA": "1 / 3", "Budget burn (study)": "90.4%", "Unpaid over 30 days (USD)": "339.00",
        "Open important deviations": "0", "Open high or critical risks": "0", "Milestone disagreements": "3",
    }
    choose(page, "Country", "FR")
    # France alone: 2 of 2 sites; 2 randomized of 3 planned = 66.7 %; the same CTQ visits,
    # payment and disagreements (all in France); the burn is the study's.
    assert headline(page) == {
        "Sites ready / planned": "2 / 2", "Randomized / planned (latest month)": "2 / 3", "Enrollment vs plan": "66.7%",
        "CTQ visits verified within SLA": "1 / 3", "Budget burn (study)": "90.4%", "Unpaid over 30 days (USD)": "339.00",
        "Open important deviations": "0", "Open high or critical risks": "0", "Milestone disagreements": "3",
    }
    # the enrollment table of France: May 1 planned, 2 randomized; June 3 planned, 2 randomized
    assert table_column(page, "Enrollment vs plan", 3) == ["2026-05", "2026-06"]


def test_a_table_downloads_as_csv_with_the_rows_shown(servers, page):
    open_page(page, servers("sponsor"), "study")
    choose(page, "Country", "FR")
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").filter(has_text="Download CSV: Enrollment vs plan").click()
    assert download.value.suggested_filename == "enrollment_vs_plan.csv"
    # France: May 1 planned, 2 randomized (+1, 200 %); June 3 planned, 2 randomized (-1, 66.67 %)
    assert Path(download.value.path()).read_text().splitlines() == [
        "study_id,country_code,month,planned_randomized_cum,actual_randomized_cum,variance,pct_of_plan",
        "ST-1,FR,2026-05,1,2,1,2.0000",
        "ST-1,FR,2026-06,3,2,-1,0.6667",
    ]


def test_switching_the_study_filter_changes_the_figures(servers, page):
    open_page(page, servers("sponsor"), "study")
    assert metric(page, "Sites ready / planned") == "2 / 3"
    choose(page, "Study", "ST-2")
    assert page.get_by_role("heading", name="Study ST-2").count() == 1
    # ST-2 (tests/fixtures/dashboard/README.md): GB, its one site ready (sponsor 14 May);
    # 1 randomized (10 Jun) of 2 planned by June = 50 %; no visits, so no CTQ visit due;
    # burn 1188 / 2000 = 59.4 %; no payments, deviations or risks; disagreements: SITE_READY
    # 0301 a day apart, and the CRO's FPI (25 May) of the study, of GB and of 0301, which the
    # sponsor does not record -> 4.
    assert headline(page) == {
        "Sites ready / planned": "1 / 1", "Randomized / planned (latest month)": "1 / 2", "Enrollment vs plan": "50.0%",
        "CTQ visits verified within SLA": "0 / 0", "Budget burn (study)": "59.4%", "Unpaid over 30 days (USD)": "0.00",
        "Open important deviations": "0", "Open high or critical risks": "0", "Milestone disagreements": "4",
    }


def test_the_portfolio_lists_every_study_with_its_traffic_lights(servers, page):
    open_page(page, servers("sponsor"), "")
    assert table_column(page, "Studies", 1) == ["ST-1", "ST-2"]
    # start-up 2 / 3 = 0.67 (amber, >= 0.5) and 1 / 1 (green); budget burn 90.4 % of a planned
    # 100 % (the baseline's months all by June; gap 9.6 points, green) and 59.4 % of 100 % (red)
    assert table_column(page, "Studies", 3) == ["🟡 2 / 3", "🟢 1 / 1"]
    assert table_column(page, "Studies", 6) == ["🟢 90.4% / 100.0%", "🔴 59.4% / 100.0%"]
    # the totals: sites ready (2 + 1) of planned (3 + 1); randomized in the latest month
    # (2 + 1) of planned (4 + 2); ST-1's 339.00 unpaid over 30 days; both studies have a red light
    totals = ["Studies", "Studies with a red light", "Sites ready of planned", "Randomized of planned", "Unpaid over 30 days (USD)"]
    assert [metric(page, label) for label in totals] == ["2", "2", "75.0%", "50.0%", "339.00"]


@pytest.mark.parametrize("audience, own, other", [("cro-acme", "ST-1", "ST-2"), ("cro-zenith", "ST-2", "ST-1")])
def test_a_cro_dashboard_lists_only_its_own_studies(servers, page, audience, own, other):
    open_page(page, servers(audience), "")
    assert table_column(page, "Studies", 1) == [own]
    page.get_by_test_id("stSelectbox").filter(has_text="Study").locator("input").click()
    assert page.get_by_role("option").all_inner_texts() == [own]
    page.keyboard.press("Escape")
    open_page(page, servers(audience), "study")
    assert other not in page.get_by_test_id("stMain").inner_text()


def options(page, label: str) -> list[str]:
    page.get_by_test_id("stSelectbox").filter(has_text=label).locator("input").click()
    found = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return found


def every_page(page, url):
    """Every page of a dashboard, for every study and country it offers: its whole HTML."""
    open_page(page, url, "")
    yield "portfolio", page.content()
    open_page(page, url, "study")
    for study in options(page, "Study"):
        choose(page, "Study", study)
        yield f"study {study}", page.content()
        for country in options(page, "Country")[1:]:  # after "All countries"
            choose(page, "Country", country)
            yield f"study {study} {country}", page.content()
        choose(page, "Country", "All countries")


def test_no_page_of_the_sponsor_dashboard_shows_an_internal_cost_canary(servers, published, page):
    _, planted = published
    canaries = [canary for values in planted.values() for canary in values]
    # the positive control: the CRO's own Study page shows its internal cost, one canary per
    # accrual row (each month and cost bucket has one row, so each sum is a canary)
    open_page(page, servers("cro-acme"), "study")
    assert [canary for canary in planted["acme"] if canary in page.content()] == planted["acme"]
    assert len(planted["acme"]) == 4
    seen = {name: [canary for canary in canaries if canary in html] for name, html in every_page(page, servers("sponsor"))}
    assert {name: found for name, found in seen.items() if found} == {}
    # the portfolio, then each study whole and by country: ST-1 (FR, DE, PL), ST-2 (GB)
    assert list(seen) == ["portfolio", "study ST-1", "study ST-1 DE", "study ST-1 FR", "study ST-1 PL", "study ST-2", "study ST-2 GB"]


def build_id_shown(page) -> str:
    return re.search(r"build (\S+)", page.get_by_test_id("stMain").inner_text()).group(1)


def test_a_running_dashboard_shows_each_new_build_the_pipeline_publishes(servers, published, page):
    # last in this file: it publishes the sponsor's view again, from the same warehouse
    settings, _ = published
    open_page(page, servers("sponsor"), "study")
    first = build_id_shown(page)
    result = run_pipeline(settings, selection=[dg.AssetKey(["published", "sponsor"])])
    assert result.success
    open_page(page, servers("sponsor"), "study")  # the same server, a new page view
    second = build_id_shown(page)
    assert second != first
    assert second.endswith(result.run_id[:8])  # build ids end with the publish run's id
    assert metric(page, "Sites ready / planned") == "2 / 3"  # the same data
