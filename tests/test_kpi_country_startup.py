"""kpi_country_startup on a hand-made fixture (tests/fixtures/startup/README.md), through
the real assets: ingestion, dbt build and its tests, into a temporary DuckDB file."""

from __future__ import annotations

from datetime import date

import pytest

from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "startup"
COLUMNS = (
    "perspective, study_id, country_code, country_ready_date, first_site_ready_date, fpi_date, "
    "days_country_ready_to_first_site_ready, days_first_site_ready_to_fpi, "
    "is_country_ready_to_first_site_ready_open, is_first_site_ready_to_fpi_open, sites_planned, sites_ready"
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("startup")
    settings = settings_for(root, FIXTURE, as_of="2026-06-30")
    result = run_pipeline(settings)
    assert result.success
    return settings.warehouse


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
