"""Every KPI mart on a hand-made fixture (tests/fixtures/kpi/README.md), through the real
assets (ingestion, dbt build and its tests) into a temporary DuckDB file. Each expected
value is worked out by hand next to its assertion; money is in USD with the 2026
reference rates EUR 1.13 and GBP 1.32."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"
COLUMNS = (
    "perspective, study_id, country_code, country_ready_date, first_site_ready_date, fpi_date, "
    "days_country_ready_to_first_site_ready, days_first_site_ready_to_fpi, "
    "is_country_ready_to_first_site_ready_open, is_first_site_ready_to_fpi_open, sites_planned, sites_ready"
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("kpi")
    settings = settings_for(root, FIXTURE, as_of="2026-06-30")
    result = run_pipeline(settings)
    assert result.success
    return settings, result


@pytest.fixture(scope="module")
def warehouse(pipeline):
    return pipeline[0].warehouse


def test_every_gate_ran_and_only_the_chronology_gate_reports(pipeline):
    _, result = pipeline
    verdicts = {
        (check.asset_key.to_user_string(), check.check_name): (check.passed, check.severity.value)
        for check in result.get_asset_check_evaluations()
        if check.check_name.endswith("_gate")
    }
    assert len([key for key in verdicts if key[1] == "contract_gate"]) == 14
    # 7 before, and the core models the marts now read instead of int_ models: dim_study,
    # dim_subject, fct_country_plan, fct_enrollment_plan, fct_unconformed_rows; and for the
    # study operations marts (#16) fct_site_packs, fct_deviations, fct_risks, fct_record_lags.
    assert len([key for key in verdicts if key[1] == "conformed_gate"]) == 16
    # 6 before, and the six study operations marts (#16).
    assert len([key for key in verdicts if key[1] == "mart_gate"]) == 12
    assert {key: verdict for key, verdict in verdicts.items() if verdict[0] is not True} == {}


def kpi_row(warehouse, perspective, country):
    with connect(warehouse, read_only=True) as con:
        rows = con.execute(
            f"select {COLUMNS} from marts.kpi_country_startup where perspective = ? and country_code = ?",
            [perspective, country],
        ).fetchall()
    assert len(rows) == 1
    return rows[0]


def test_as_of_date_comes_from_cg_as_of(warehouse):
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select as_of_date, latest_delivery_date from intermediate.int_as_of_date").fetchall() == [
            (date(2026, 6, 30), date(2026, 7, 3))
        ]


def rows(warehouse, sql):
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_cro_france_applies_the_correction_and_counts_local_dates(warehouse):
    # Country ready E-001: 1 Mar. First SIV: E-003 (10 Apr) is replaced by E-005 (5 Apr),
    # E-004 is 20 Apr -> 5 Apr. FPI: E-006 at 00:30+02:00 on 1 May -> 1 May (local).
    # 1 Mar -> 5 Apr = 31 - 1 + 5 = 35 days; 5 Apr -> 1 May = 30 - 5 + 1 = 26 days.
    assert kpi_row(warehouse, "cro", "FR") == (
        "cro", "ST-1", "FR", date(2026, 3, 1), date(2026, 4, 5), date(2026, 5, 1), 35, 26, False, False, 2, 2,
    )


def test_cro_germany_void_leaves_the_cycle_open_and_late_records_do_not_count(warehouse):
    # E-008 (SIV 1 Apr) is voided by E-009; E-010 (screened 20 Jun) was recorded 2 Jul,
    # after the as-of date 30 Jun. So: ready 10 Mar, no site ready, open, no FPI.
    assert kpi_row(warehouse, "cro", "DE") == (
        "cro", "ST-1", "DE", date(2026, 3, 10), None, None, None, None, True, False, 1, 0,
    )


def test_a_planned_country_without_activity_has_a_row(warehouse):
    assert kpi_row(warehouse, "cro", "PL") == ("cro", "ST-1", "PL", None, None, None, None, None, False, False, 0, 0)


def test_sponsor_view_uses_the_same_definition_on_its_own_records(warehouse):
    # The sponsor's country ready is 2 Mar: 2 Mar -> 5 Apr = 29 + 5 = 34 days.
    assert kpi_row(warehouse, "sponsor", "FR") == (
        "sponsor", "ST-1", "FR", date(2026, 3, 2), date(2026, 4, 5), date(2026, 5, 1), 34, 26, False, False, 2, 2,
    )
    assert kpi_row(warehouse, "sponsor", "DE") == (
        "sponsor", "ST-1", "DE", date(2026, 3, 10), None, None, None, None, True, False, 1, 0,
    )


def test_one_row_per_perspective_and_planned_country(warehouse):
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from marts.kpi_country_startup").fetchall() == [(6,)]


def test_each_built_table_reports_its_row_count_to_dagster(pipeline):
    _, result = pipeline
    counts = {
        event.asset_key.to_user_string(): event.materialization.metadata.get("dagster/row_count")
        for event in result.get_asset_materialization_events()
    }
    assert counts["marts/kpi_country_startup"].value == 6  # the table's rows, above
    assert counts["staging/stg_cro__sites"] is None  # a view: counting would run its query


def test_study_startup(warehouse):
    # Protocol final 10 Jan (both views, from the sponsor). First country ready: CRO 1 Mar
    # (FR), sponsor 2 Mar (FR). First site ready 5 Apr, FPI 1 May in both views.
    # CRO: 10 Jan -> 1 Mar = 21 + 28 + 1 = 50 days; sponsor: 51 days.
    # 1 Mar -> 5 Apr = 35 (sponsor 2 Mar -> 5 Apr = 34); 5 Apr -> 1 May = 26; 10 Jan -> 1 May = 111.
    assert rows(warehouse, "select * from marts.kpi_study_startup order by perspective") == [
        ("cro", "ST-1", date(2026, 1, 10), date(2026, 3, 1), date(2026, 4, 5), date(2026, 5, 1), 50, 35, 26, 111, False, False, 2, 2),
        ("sponsor", "ST-1", date(2026, 1, 10), date(2026, 3, 2), date(2026, 4, 5), date(2026, 5, 1), 51, 34, 26, 111, False, False, 2, 2),
    ]


def test_enrollment_vs_plan(warehouse):
    # Randomized in France: FR-LYO-01-001 on 4 May, FR-PAR-01-001 on 10 May -> 2 by end of May and June.
    # FR May: 2 vs 1 -> +1, 200 %; June: 2 vs 3 -> -1, 66.67 %.
    # DE: plan 0 in May (pct null), 1 in June (0 %). PL: plan 0 in June (pct null).
    # Months run from the study's first plan month (2026-05, FR and DE) to the as-of month
    # for every planned country: PL now also has May, before its first plan row (June),
    # so nothing planned yet: 0 vs 0, pct null.
    assert rows(warehouse, "select country_code, month, planned_randomized_cum, actual_randomized_cum, variance, pct_of_plan "
                           "from marts.kpi_enrollment_vs_plan order by country_code, month") == [
        ("DE", "2026-05", 0, 0, 0, None),
        ("DE", "2026-06", 1, 0, -1, Decimal("0.0000")),
        ("FR", "2026-05", 1, 2, 1, Decimal("2.0000")),
        ("FR", "2026-06", 3, 2, -1, Decimal("0.6667")),
        ("PL", "2026-05", 0, 0, 0, None),
        ("PL", "2026-06", 0, 0, 0, None),
    ]


def test_verification_timeliness(warehouse):
    # CTQ visits (RND, W04) by 30 Jun: PAR RND 10 May (SDV 20 May: 10 d), LYO RND 4 May
    # (SDV 25 May: 21 d, after the 14-day SLA), LYO W04 1 Jun (not verified), PAR W04 20 Jun.
    # Due (visit + 14 <= 30 Jun): PAR RND, LYO RND, LYO W04 -> 3 (PAR W04 is due 4 Jul).
    # Within SLA: PAR RND only -> 1; 1/3 = 0.3333. Median of 10 and 21 = 15.5. Open overdue: LYO W04.
    # DE and PL are planned and have no CTQ visit: counts 0, ratio and median null.
    assert rows(warehouse, "select country_code, ctq_visits_due, ctq_verified_within_sla, pct_within_sla, "
                           "median_days_to_verify, ctq_open_overdue, ctq_visits_verified from marts.kpi_verification_timeliness "
                           "order by country_code") == [
        ("DE", 0, 0, None, None, 0, 0),
        ("FR", 3, 1, Decimal("0.3333"), Decimal("15.5"), 1, 2),
        ("PL", 0, 0, None, None, 0, 0),
    ]


def test_event_to_payable(warehouse):
    # Eligible (payable type, SDV by 30 Jun): PAR SCR (8 May), PAR RND (20 May), LYO SCR (5 May), LYO RND (25 May).
    # Eligible -> payable: P1 8->12 May 4 d, P2 20->22 May 2 d, P3 5->9 May 4 d, P4 25->27 May 2 d: median 3.
    # Payable -> paid: P1 12->30 May 18 d, P2 22 May->28 Jun 37 d: median 27.5.
    # Due (SDV + 30 <= 30 Jun): all four. Paid within 30 days of SDV: P1 (22 d); P2 took 39 d -> 1 of 4.
    # P5 (PAR W04, held) is for a visit not verified yet: not eligible, so not here.
    # DE and PL are planned and have nothing eligible: counts 0, medians and ratio null.
    assert rows(warehouse, "select country_code, eligible_visits, median_days_eligible_to_payable, median_days_payable_to_paid, "
                           "payments_due, paid_within_sla, pct_paid_within_sla from marts.kpi_event_to_payable order by country_code") == [
        ("DE", 0, None, None, 0, 0, None),
        ("FR", 4, Decimal("3.0"), Decimal("27.5"), 4, 1, Decimal("0.2500")),
        ("PL", 0, None, None, 0, 0, None),
    ]


def test_site_payment_status(warehouse):
    # EUR 300, 1000, 300, 1000 x 1.13 = 339, 1130, 339, 1130 USD; payable 2938.00.
    # Held payments reached payable, even without a payable date: P5 (PAR W04, EUR 800 x 1.13 =
    # 904, held on 25 Jun with no PayableDate, added to the fixture for this rule) counts too:
    # payable 5 payments, 2938 + 904 = 3842.00 (was 4 and 2938.00 before P5 existed).
    # Paid: P1 + P2 = 1469.00. Held: P4 and P5 -> 2 (was 1). Unpaid and not held: P3, payable
    # 9 May -> 52 days at 30 Jun -> 339.00 in 31-60; P4 (27 May, 34 days) and P5 are held, so
    # in no ageing bucket. DE and PL are planned with no payment: counts and amounts 0.
    assert rows(warehouse, "select * exclude (perspective) from marts.kpi_site_payment_status order by country_code") == [
        ("ST-1", "DE", 0, Decimal("0.00"), 0, Decimal("0.00"), 0,
         Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
        ("ST-1", "FR", 5, Decimal("3842.00"), 2, Decimal("1469.00"), 2,
         Decimal("0.00"), Decimal("339.00"), Decimal("0.00"), Decimal("0.00")),
        ("ST-1", "PL", 0, Decimal("0.00"), 0, Decimal("0.00"), 0,
         Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
    ]


def test_forecast_accuracy(warehouse):
    # Actuals (EUR x 1.13): Apr MONITORING 1130, PROJECT_MANAGEMENT 565; May MONITORING 1356.
    # June is the as-of month, not closed. Lag 1: Apr from version 2026-03 (MON 1200, PM 600),
    # May from 2026-04 (MON 1300; it has no PM row, and May has no PM actual).
    #   MONITORING: WAPE (70 + 56) / 2486 = 0.0507; bias (2500 - 2486) / 2486 = 0.0056.
    #   PROJECT_MANAGEMENT: WAPE 35 / 565 = 0.0619; bias +0.0619.
    # Lag 3: Apr from 2026-01 (MON 1000, PM 500); May would need version 2026-02, which does not exist.
    #   MONITORING: 130 / 1130 = 0.1150, bias -0.1150; PROJECT_MANAGEMENT: 65 / 565 = 0.1150, bias -0.1150.
    assert rows(warehouse, "select cost_bucket, lag_months, months_compared, actual_amount, forecast_amount, wape, bias "
                           "from marts.kpi_forecast_accuracy order by cost_bucket, lag_months") == [
        ("MONITORING", 1, 2, Decimal("2486.00"), Decimal("2500.00"), Decimal("0.0507"), Decimal("0.0056")),
        ("MONITORING", 3, 1, Decimal("1130.00"), Decimal("1000.00"), Decimal("0.1150"), Decimal("-0.1150")),
        ("PROJECT_MANAGEMENT", 1, 1, Decimal("565.00"), Decimal("600.00"), Decimal("0.0619"), Decimal("0.0619")),
        ("PROJECT_MANAGEMENT", 3, 1, Decimal("565.00"), Decimal("500.00"), Decimal("0.1150"), Decimal("-0.1150")),
    ]


def test_budget_burn(warehouse):
    # Budget = baseline version 2026-01 = 3 x 1000 + 3 x 500 = 4500 USD.
    # Accrued: Apr 1130 + 565 = 1695; May +1356 = 3051; Jun +900 x 1.13 = 1017 -> 4068.
    # Burn: 1695 / 4500 = 0.3767; 3051 / 4500 = 0.6780; 4068 / 4500 = 0.9040.
    # Latest version by the month: 2026-01 (4500) in Jan-Feb, 2026-03 (3600) in Mar, 2026-04 (1300) from Apr.
    assert rows(warehouse, "select month, budget_amount, actual_cum, burn_pct, latest_forecast_total "
                           "from marts.kpi_budget_burn order by month") == [
        ("2026-01", Decimal("4500.00"), Decimal("0.00"), Decimal("0.0000"), Decimal("4500.00")),
        ("2026-02", Decimal("4500.00"), Decimal("0.00"), Decimal("0.0000"), Decimal("4500.00")),
        ("2026-03", Decimal("4500.00"), Decimal("0.00"), Decimal("0.0000"), Decimal("3600.00")),
        ("2026-04", Decimal("4500.00"), Decimal("1695.00"), Decimal("0.3767"), Decimal("1300.00")),
        ("2026-05", Decimal("4500.00"), Decimal("3051.00"), Decimal("0.6780"), Decimal("1300.00")),
        ("2026-06", Decimal("4500.00"), Decimal("4068.00"), Decimal("0.9040"), Decimal("1300.00")),
    ]


def test_accrual_coverage(warehouse):
    # Invoices in GBP x 1.32: INV-1 MONITORING 800 -> 1056 (Apr, paid 20 May), INV-2 disputed
    # (left out), INV-3 PROJECT_MANAGEMENT 400 -> 528 (Apr, received).
    # MONITORING accrued: Apr 1130, May 2486, Jun 3503. Ratios 1056/1130 = 0.9345,
    # 1056/2486 = 0.4248, 1056/3503 = 0.3015; unbilled 74, 1430, 2447.
    # PROJECT_MANAGEMENT: 565 accrued, 528 invoiced from Apr: 0.9345, unbilled 37.
    # Months run from the baseline forecast version (2026-01), no longer from the first
    # accrual (2026-04): Jan-Mar have nothing accrued or invoiced yet, ratio null.
    nothing_yet = (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), None, Decimal("0.00"))
    assert rows(warehouse, "select month, cost_bucket, accrued_cum, invoiced_cum, paid_cum, invoiced_to_accrued, unbilled_amount "
                           "from marts.kpi_accrual_coverage order by cost_bucket, month") == [
        *[(month, "MONITORING", *nothing_yet) for month in ("2026-01", "2026-02", "2026-03")],
        ("2026-04", "MONITORING", Decimal("1130.00"), Decimal("1056.00"), Decimal("0.00"), Decimal("0.9345"), Decimal("74.00")),
        ("2026-05", "MONITORING", Decimal("2486.00"), Decimal("1056.00"), Decimal("1056.00"), Decimal("0.4248"), Decimal("1430.00")),
        ("2026-06", "MONITORING", Decimal("3503.00"), Decimal("1056.00"), Decimal("1056.00"), Decimal("0.3015"), Decimal("2447.00")),
        *[(month, "PROJECT_MANAGEMENT", *nothing_yet) for month in ("2026-01", "2026-02", "2026-03")],
        ("2026-04", "PROJECT_MANAGEMENT", Decimal("565.00"), Decimal("528.00"), Decimal("0.00"), Decimal("0.9345"), Decimal("37.00")),
        ("2026-05", "PROJECT_MANAGEMENT", Decimal("565.00"), Decimal("528.00"), Decimal("0.00"), Decimal("0.9345"), Decimal("37.00")),
        ("2026-06", "PROJECT_MANAGEMENT", Decimal("565.00"), Decimal("528.00"), Decimal("0.00"), Decimal("0.9345"), Decimal("37.00")),
    ]


def test_milestone_discrepancies(warehouse):
    # Country ready FR: sponsor 2 Mar, CRO 1 Mar -> DATE_MISMATCH, -1 day. DE: both 10 Mar.
    # Sites: both sides 5 Apr (after the CRO's correction) and 20 Apr; DE-BER-01 is known to
    # neither (sponsor: no actual date; CRO: voided). FPI per site only from the CRO.
    assert rows(warehouse, "select country_code, site_code, milestone, sponsor_date, cro_date, days_apart, status "
                           "from marts.rpt_milestone_discrepancies order by milestone, country_code nulls first, site_code nulls first") == [
        ("DE", None, "COUNTRY_READY", date(2026, 3, 10), date(2026, 3, 10), 0, "MATCH"),
        ("FR", None, "COUNTRY_READY", date(2026, 3, 2), date(2026, 3, 1), -1, "DATE_MISMATCH"),
        (None, None, "FPI", date(2026, 5, 1), date(2026, 5, 1), 0, "MATCH"),
        ("FR", None, "FPI", date(2026, 5, 1), date(2026, 5, 1), 0, "MATCH"),
        ("FR", "0101", "FPI", None, date(2026, 5, 3), None, "ONLY_CRO"),
        ("FR", "0102", "FPI", None, date(2026, 5, 1), None, "ONLY_CRO"),
        ("FR", "0101", "SITE_READY", date(2026, 4, 5), date(2026, 4, 5), 0, "MATCH"),
        ("FR", "0102", "SITE_READY", date(2026, 4, 20), date(2026, 4, 20), 0, "MATCH"),
    ]


def test_internal_cost_stays_in_cro_audience_models(warehouse):
    sponsor_facing = rows(
        warehouse,
        "select table_name from information_schema.columns where table_schema = 'marts' "
        "and lower(column_name) like '%internal_cost%' order by table_name",
    )
    # the accruals and the records of accrual coverage's evidence, both marked cro_internal
    # (what each audience is published is tested in test_leaks.py)
    assert sponsor_facing == [("evidence_accrual_coverage",), ("fct_accruals",)]
