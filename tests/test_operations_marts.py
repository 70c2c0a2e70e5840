"""The study operations marts (#16) on a hand-made fixture (tests/fixtures/operations/
README.md), through the real assets (ingestion, dbt build and its tests, the gates) into a
temporary DuckDB file, as of 2026-06-30. Each expected value is worked out by hand next to
its assertion; the dbt unit tests of the state rules run against the same warehouse."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "operations"
NEW_MARTS = ("kpi_site_readiness", "kpi_country_readiness", "kpi_deviations", "kpi_risks", "kpi_closeout", "kpi_data_quality")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("operations")
    settings = settings_for(root, FIXTURE, as_of="2026-06-30")
    result = run_pipeline(settings)
    assert result.success
    return settings, result


@pytest.fixture(scope="module")
def warehouse(pipeline):
    return pipeline[0].warehouse


def rows(warehouse, sql):
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_new_marts_and_facts_have_passing_blocking_gates(pipeline):
    _, result = pipeline
    verdicts = {
        (check.asset_key.path[-1], check.check_name): check.passed
        for check in result.get_asset_check_evaluations()
    }
    for mart in NEW_MARTS:
        assert verdicts[(mart, "mart_gate")] is True, mart
    for fact in ("fct_site_packs", "fct_deviations", "fct_risks", "fct_record_lags"):
        assert verdicts[(fact, "conformed_gate")] is True, fact


def test_site_readiness(warehouse):
    # As of 30 Jun 2026. 0101: all four items and the SIV on 15 May on both sides; the CRO
    # voided SITE_SYSTEMS_READY (E-06) after the SIV -> 3 items, still READY.
    # 15 May -> 30 Jun = 16 + 30 = 46 days. 0102: selected 1 Mar, IRB 20 May (sponsor) /
    # 22 May (CRO), contract planned only -> IN_PROGRESS since 1 Mar: 30 + 30 + 31 + 30 = 121.
    # 0201: nothing (the CRO's SITE_SELECTED E-41 was recorded before it happened and held)
    # -> PLANNED since protocol final 10 Jan: 21 + 28 + 31 + 30 + 31 + 30 = 171.
    # 0301 (ST-B): SIV 1 Sep 2025 -> READY, 30 + 31 + 30 + 31 + 31 + 28 + 31 + 30 + 31 + 29 = 302.
    got = rows(warehouse, "select perspective, study_id, country_code, site_code, selected_date, irb_approved_date, "
                          "contract_signed_date, systems_ready_date, site_ready_date, pack_items_done, pack_items_total, "
                          "pack_state, days_in_state from marts.kpi_site_readiness order by study_id, site_code, perspective")
    assert got == [
        ("cro", "ST-A", "FR", "0101", date(2026, 2, 1), date(2026, 3, 10), date(2026, 4, 20), None, date(2026, 5, 15), 3, 4, "READY", 46),
        ("sponsor", "ST-A", "FR", "0101", date(2026, 2, 1), date(2026, 3, 10), date(2026, 4, 20), date(2026, 5, 5), date(2026, 5, 15), 4, 4, "READY", 46),
        ("cro", "ST-A", "FR", "0102", date(2026, 3, 1), date(2026, 5, 22), None, None, None, 2, 4, "IN_PROGRESS", 121),
        ("sponsor", "ST-A", "FR", "0102", date(2026, 3, 1), date(2026, 5, 20), None, None, None, 2, 4, "IN_PROGRESS", 121),
        ("cro", "ST-A", "DE", "0201", None, None, None, None, None, 0, 4, "PLANNED", 171),
        ("sponsor", "ST-A", "DE", "0201", None, None, None, None, None, 0, 4, "PLANNED", 171),
        ("cro", "ST-B", "GB", "0301", None, None, None, None, date(2025, 9, 1), 0, 4, "READY", 302),
        ("sponsor", "ST-B", "GB", "0301", None, None, None, None, date(2025, 9, 1), 0, 4, "READY", 302),
    ]


def test_country_readiness(warehouse):
    # FR: CRO approved 15 Feb (the sponsor has no code: null), ready 1 Mar on both sides;
    # sites selected 0101 + 0102 = 2, 0102 in progress, 0101 ready. DE: only the CRO's
    # approval (1 Apr) -> CRO IN_PROGRESS, sponsor PLANNED. IT: planned, nothing -> a row
    # with zeros. GB (ST-B): ready 1 Aug 2025, 0301 ready (no pack items: selected 0).
    got = rows(warehouse, "select perspective, study_id, country_code, approval_date, country_ready_date, sites_planned, "
                          "sites_selected, sites_in_progress, sites_ready, pack_state from marts.kpi_country_readiness "
                          "order by study_id, country_code, perspective")
    assert got == [
        ("cro", "ST-A", "DE", date(2026, 4, 1), None, 1, 0, 0, 0, "IN_PROGRESS"),
        ("sponsor", "ST-A", "DE", None, None, 1, 0, 0, 0, "PLANNED"),
        ("cro", "ST-A", "FR", date(2026, 2, 15), date(2026, 3, 1), 2, 2, 1, 1, "READY"),
        ("sponsor", "ST-A", "FR", None, date(2026, 3, 1), 2, 2, 1, 1, "READY"),
        ("cro", "ST-A", "IT", None, None, 1, 0, 0, 0, "PLANNED"),
        ("sponsor", "ST-A", "IT", None, None, 1, 0, 0, 0, "PLANNED"),
        ("cro", "ST-B", "GB", None, date(2025, 8, 1), 1, 0, 0, 1, "READY"),
        ("sponsor", "ST-B", "GB", None, date(2025, 8, 1), 1, 0, 0, 1, "READY"),
    ]


def test_deviations(warehouse):
    # 0101: DV-1 opened 20 May, closed 8 Jun (12 + 8 = 19 days); DV-2 IMPORTANT opened 25 May,
    # closed 1 Jun (E-23) but E-24 corrects that close into an opening -> open again, open
    # 25 May -> 30 Jun = 6 + 30 = 36 days > 30; DV-3 voided (E-26) -> not counted; DV-5 opened
    # 3 Jun, closed 10 Jun (7 days). Opened 3, closed 2, open 1, important open 1,
    # median(19, 7) = 13.0, open over 30 days 1. 0102: DV-4 opened 20 Jun without a severity
    # (a delivery written before severity existed): open, 10 days, not important.
    # 0201, 0301: no deviation -> zeros. IT has no known site: one row with site_code null.
    got = rows(warehouse, "select perspective, study_id, country_code, site_code, opened, closed, open_now, important_open, "
                          "median_days_to_close, open_over_30_days from marts.kpi_deviations order by study_id, country_code, site_code")
    assert got == [
        ("shared", "ST-A", "DE", "0201", 0, 0, 0, 0, None, 0),
        ("shared", "ST-A", "FR", "0101", 3, 2, 1, 1, Decimal("13.0"), 1),
        ("shared", "ST-A", "FR", "0102", 1, 0, 1, 0, None, 0),
        ("shared", "ST-A", "IT", None, 0, 0, 0, 0, None, 0),
        ("shared", "ST-B", "GB", "0301", 0, 0, 0, 0, None, 0),
    ]


def test_risks(warehouse):
    # RK-1 opened 1 Mar (E-30), closed 10 Apr, then E-32 corrects the opening to 15 Mar:
    # 15 Mar -> 10 Apr = 16 + 10 = 26 days, closed. RK-2 study-level, open since 1 Jun: 29.
    # RK-3 at 0101, open since 1 May: 30 + 30 = 60.
    got = rows(warehouse, "select perspective, study_id, risk_id, country_code, site_code, category, severity, opened_date, "
                          "closed_date, days_open, is_open from marts.kpi_risks order by risk_id")
    assert got == [
        ("shared", "ST-A", "RK-1", "DE", None, "enrollment", "HIGH", date(2026, 3, 15), date(2026, 4, 10), 26, False),
        ("shared", "ST-A", "RK-2", None, None, "supply", "MEDIUM", date(2026, 6, 1), None, 29, True),
        ("shared", "ST-A", "RK-3", "FR", "0101", "data quality", "CRITICAL", date(2026, 5, 1), None, 60, True),
    ]


def test_closeout(warehouse):
    # ST-A still enrolls (FR-PAR-01-001 randomized 19 May, no close-out event): no LPI in
    # either view -> NOT_STARTED. ST-B sponsor: LPI 20 Jan, DB lock 15 Apr, FIN 15 Jun, TMF
    # planned only -> IN_PROGRESS; 20 Jan -> 15 Apr = 11 + 28 + 31 + 15 = 85;
    # 15 Apr -> 15 Jun = 15 + 31 + 15 = 61. ST-B CRO: first close-out event DB_LOCK 15 Apr;
    # randomized GB-001 10 Oct, GB-002 20 Jan, GB-003 1 May (after DB lock: not LPI)
    # -> LPI 20 Jan, 85 days; FIN 16 Jun: 15 + 31 + 16 = 62; TMF 10 May -> CLOSED.
    got = rows(warehouse, "select perspective, study_id, lpi_date, db_lock_date, tmf_recon_date, fin_recon_date, "
                          "days_lpi_to_db_lock, days_db_lock_to_fin_recon, closeout_state from marts.kpi_closeout "
                          "order by study_id, perspective")
    assert got == [
        ("cro", "ST-A", None, None, None, None, None, None, "NOT_STARTED"),
        ("sponsor", "ST-A", None, None, None, None, None, None, "NOT_STARTED"),
        ("cro", "ST-B", date(2026, 1, 20), date(2026, 4, 15), date(2026, 5, 10), date(2026, 6, 16), 85, 62, "CLOSED"),
        ("sponsor", "ST-B", date(2026, 1, 20), date(2026, 4, 15), None, date(2026, 6, 15), 85, 61, "IN_PROGRESS"),
    ]


def test_data_quality(warehouse):
    # events May: one file of 21 records, all accepted; lags 0 x 10, 1 x 9 (ST-B recorded a
    # day late), 2 (E-02), 4 (E-12): the 11th of 21 sorted is 1 -> 1.0.
    # events June: 0601 (7), 0615 (11: E-41 held at ingestion, E-40 'Untied States' held in
    # the conformed layer), 0622 = the same bytes as 0615 (duplicate, counts 11 received),
    # 0629 (2). Received 4 files, 7 + 11 + 11 + 2 = 31 records; accepted 7 + 9 + 2 = 18;
    # quarantined 1 + 1 = 2; pct 18 / (7 + 11 + 2) = 0.9000; one open unmapped code; lags
    # of the 18 accepted: 15 zeros, 1 (E-20), 9 (E-24), 87 (E-32) -> median 0.0.
    # visits June: one file with `Subject` for `SubjectId` -> rejected, no records.
    got = rows(warehouse, "select source, feed, month, deliveries_received, deliveries_loaded, deliveries_held, "
                          "deliveries_rejected, deliveries_duplicate, rows_received, rows_accepted, rows_quarantined, "
                          "pct_rows_accepted, unmapped_codes_open, median_days_recorded_late from marts.kpi_data_quality "
                          "order by source, feed, month")
    assert got == [
        ("cro-acme", "events", "2026-05", 1, 1, 0, 0, 0, 21, 21, 0, Decimal("1.0000"), 0, Decimal("1.0")),
        ("cro-acme", "events", "2026-06", 4, 3, 0, 0, 1, 31, 18, 2, Decimal("0.9000"), 1, Decimal("0.0")),
        ("cro-acme", "sites", "2026-06", 1, 1, 0, 0, 0, 4, 4, 0, Decimal("1.0000"), 0, None),
        ("cro-acme", "studies", "2026-06", 1, 1, 0, 0, 0, 2, 2, 0, Decimal("1.0000"), 0, None),
        ("cro-acme", "visits", "2026-06", 1, 0, 0, 1, 0, 0, 0, 0, None, 0, None),
        ("sponsor", "country_plan", "2026-06", 1, 1, 0, 0, 0, 4, 4, 0, Decimal("1.0000"), 0, None),
        ("sponsor", "milestones", "2026-06", 1, 1, 0, 0, 0, 15, 15, 0, Decimal("1.0000"), 0, None),
        ("sponsor", "studies", "2026-06", 1, 1, 0, 0, 0, 2, 2, 0, Decimal("1.0000"), 0, None),
    ]


def test_milestone_discrepancies_cover_the_pack_items(warehouse):
    # 0101: every item on the same date on both sides except SITE_SYSTEMS_READY, voided by
    # the CRO -> ONLY_SPONSOR. 0102: IRB 20 May (sponsor) vs 22 May (CRO) -> +2 days.
    got = rows(warehouse, "select site_code, milestone, sponsor_date, cro_date, days_apart, status "
                          "from marts.rpt_milestone_discrepancies where milestone like 'SITE%' order by site_code, milestone")
    assert got == [
        ("0101", "SITE_CONTRACT_SIGNED", date(2026, 4, 20), date(2026, 4, 20), 0, "MATCH"),
        ("0101", "SITE_IRB_APPROVED", date(2026, 3, 10), date(2026, 3, 10), 0, "MATCH"),
        ("0101", "SITE_READY", date(2026, 5, 15), date(2026, 5, 15), 0, "MATCH"),
        ("0101", "SITE_SELECTED", date(2026, 2, 1), date(2026, 2, 1), 0, "MATCH"),
        ("0101", "SITE_SYSTEMS_READY", date(2026, 5, 5), None, None, "ONLY_SPONSOR"),
        ("0102", "SITE_IRB_APPROVED", date(2026, 5, 20), date(2026, 5, 22), 2, "DATE_MISMATCH"),
        ("0102", "SITE_SELECTED", date(2026, 3, 1), date(2026, 3, 1), 0, "MATCH"),
        ("0301", "SITE_READY", date(2025, 9, 1), date(2025, 9, 1), 0, "MATCH"),
    ]


def test_new_marts_declare_their_audiences():
    import yaml

    models = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "marts" / "kpi" / "_operations.yml").read_text())["models"]
    audiences = {model["name"]: model["config"]["meta"]["audience"] for model in models}
    assert audiences == {mart: ["sponsor", "cro"] for mart in NEW_MARTS[:-1]} | {"kpi_data_quality": ["sponsor", "governance"]}


def test_dbt_unit_tests_of_the_state_rules_pass(pipeline):
    settings, _ = pipeline
    env = {**os.environ, **settings.dbt_env()}
    dbt = PROJECT_ROOT / ".venv" / "bin" / "dbt"
    result = subprocess.run(
        [str(dbt), "test", "--select", "test_type:unit", "--profiles-dir", ".", "--target-path", str(settings.warehouse.parent / "dbt_unit")],
        cwd=PROJECT_ROOT / "dbt_project", env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    passed = [line for line in result.stdout.splitlines() if " PASS " in line]
    assert len(passed) == UNIT_TESTS, result.stdout[-4000:]


UNIT_TESTS = 9  # every `unit_tests:` file under dbt_project/models/


def test_the_demo_summary_shows_readiness_and_risk_per_study(warehouse):
    from workshop.report import summary

    lines = summary(warehouse).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Readiness and risk per study"))
    # CRO view. ST-A: 0101 ready, 0102 in its pack (121 days), 0201 planned; deviations open
    # DV-2 and DV-4, DV-2 important and over 30 days; risks open RK-2 and RK-3 (CRITICAL).
    # ST-B: 0301 ready, nothing open, close-out IN_PROGRESS (sponsor: no TMF) / CLOSED (CRO).
    assert lines[start + 3].split() == ["ST-A", "1", "/", "1", "/", "1", "121.0", "2", "1", "1", "2", "1", "NOT_STARTED", "/", "NOT_STARTED"]
    assert lines[start + 4].split() == ["ST-B", "1", "/", "0", "/", "0", "-", "0", "0", "0", "0", "0", "IN_PROGRESS", "/", "CLOSED"]
