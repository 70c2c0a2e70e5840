"""Evidence of the start-up, readiness, close-out and event-to-payable marts (#18), worked
out by hand on the KPI fixture (tests/fixtures/kpi/README.md) and the study operations
fixture (tests/fixtures/operations/README.md), through the real assets into temporary
DuckDB files. On the operations fixture too, every evidence model reproduces its mart, as
tests/test_evidence.py checks on the KPI fixture: its packs, close-out and country
approvals exercise rules the KPI fixture leaves empty."""

from __future__ import annotations

from datetime import date

import pytest

from cg_evidence import query
from cg_evidence.declarations import evidence_models
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for

EVIDENCE = evidence_models()


def build(tmp_path_factory, fixture: str):
    root = tmp_path_factory.mktemp(f"evidence_{fixture}")
    settings = settings_for(root, PROJECT_ROOT / "tests" / "fixtures" / fixture, as_of="2026-06-30")
    assert run_pipeline(settings).success
    return settings.warehouse


@pytest.fixture(scope="module")
def kpi_warehouse(tmp_path_factory):
    return build(tmp_path_factory, "kpi")


@pytest.fixture(scope="module")
def operations_warehouse(tmp_path_factory):
    return build(tmp_path_factory, "operations")


def rows(warehouse, sql):
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.parametrize("kpi", sorted(EVIDENCE))
def test_on_the_operations_fixture_the_evidence_rows_aggregated_are_the_kpi(operations_warehouse, kpi):
    evidence = EVIDENCE[kpi]
    measures = [column for column, _ in evidence.measures]
    with connect(operations_warehouse, read_only=True) as con:
        from_evidence = query.evidence_counts(con, evidence)
        mart = query.fetch(
            con, f"select {', '.join([*evidence.key, *measures])} from {evidence.kpi_relation} order by {', '.join(evidence.key)}", [],
        )
    assert from_evidence == mart


OPERATIONS_EVIDENCE = {
    "evidence_study_startup": "kpi_study_startup", "evidence_country_startup": "kpi_country_startup",
    "evidence_site_readiness": "kpi_site_readiness", "evidence_country_readiness": "kpi_country_readiness",
    "evidence_closeout": "kpi_closeout", "evidence_event_to_payable": "kpi_event_to_payable",
    "evidence_milestone_discrepancies": "rpt_milestone_discrepancies",
}


@pytest.mark.parametrize("model", sorted(OPERATIONS_EVIDENCE))
def test_every_column_of_the_mart_is_a_measure_or_says_why_not(model):
    # Besides the row key and the `perspective` label, each mart column is a declared
    # measure, or is listed in `not_reproduced` with why.
    nodes = _models()
    kpi = OPERATIONS_EVIDENCE[model]
    declared = nodes[model]["config"]["meta"]["evidence"]
    assert declared["kpi"] == kpi
    covered = {*declared["key"], "perspective", *declared["measures"], *declared.get("not_reproduced", {})}
    assert set(nodes[kpi]["columns"]) - covered == set()
    assert all(reason for reason in declared.get("not_reproduced", {}).values())


def test_study_startup_evidence_shows_the_corrected_siv_and_the_later_records(kpi_warehouse):
    # FR-PAR-01's SIV E-003 (10 Apr) corrected to 5 Apr by E-005 (delivery of 8 Jun, its
    # 2nd record): that record sets the CRO's first site ready. The sponsor's country ready
    # is 2 Mar, a day after the CRO's 1 Mar; Germany's 10 Mar only counts a country ready.
    assert rows(kpi_warehouse, "select perspective, country_code, site_number, milestone_code, milestone_date, sets, file_name, row_number "
                               "from marts.evidence_study_startup where milestone_code in ('SITE_READY', 'COUNTRY_READY') "
                               "order by perspective desc, milestone_code, country_code, site_number") == [
        ("sponsor", "DE", None, "COUNTRY_READY", date(2026, 3, 10), "countries_ready (DE)", "milestones__20260601T020000Z.csv", 3),
        ("sponsor", "FR", None, "COUNTRY_READY", date(2026, 3, 2), "first_country_ready_date; countries_ready (FR)",
         "milestones__20260601T020000Z.csv", 2),
        ("sponsor", "FR", "0101", "SITE_READY", date(2026, 4, 5), "first_site_ready_date; sites_ready (0101)",
         "milestones__20260601T020000Z.csv", 4),
        ("sponsor", "FR", "0102", "SITE_READY", date(2026, 4, 20), "sites_ready (0102)", "milestones__20260601T020000Z.csv", 5),
        ("cro", "DE", None, "COUNTRY_READY", date(2026, 3, 10), "countries_ready (DE)", "events__20260601T030000Z.jsonl", 4),
        ("cro", "FR", None, "COUNTRY_READY", date(2026, 3, 1), "first_country_ready_date; countries_ready (FR)",
         "events__20260601T030000Z.jsonl", 2),
        ("cro", "FR", "0101", "SITE_READY", date(2026, 4, 5), "first_site_ready_date; sites_ready (0101)",
         "events__20260608T030000Z.jsonl", 2),
        ("cro", "FR", "0102", "SITE_READY", date(2026, 4, 20), "sites_ready (0102)", "events__20260601T030000Z.jsonl", 1),
    ]


def test_event_to_payable_evidence_of_france_hand_checked(kpi_warehouse):
    # Payable visits (kpi_marts' test_event_to_payable): PAR SCR SDV 8 May, payable 12 May (4 d),
    # paid 30 May (18 d; 22 d after SDV: within 30); PAR RND SDV 20 May, 22 May (2 d), paid 28 Jun
    # (37 d; 39 after SDV: late); LYO SCR 5 May -> 9 May (4 d), unpaid; LYO RND 25 -> 27 May (2 d),
    # held. All four due (SDV + 30 <= 30 Jun). The W04 visits are not verified: not eligible,
    # nor is P5, the payment of PAR W04.
    assert rows(kpi_warehouse, "select record_kind, site_number, visit_code, payment_id, days_eligible_to_payable, days_payable_to_paid, "
                               "is_counted, is_due, is_paid_within_sla, exclusion_reason from marts.evidence_event_to_payable "
                               "where country_code = 'FR' order by record_kind desc, site_number, visit_code") == [
        ("visit", "0101", "RND", None, 2, 37, True, True, False, None),
        ("visit", "0101", "SCR", None, 4, 18, True, True, True, None),
        ("visit", "0101", "W04", None, None, None, False, False, False, "not_eligible: not verified (no SDV) by the as-of date"),
        ("visit", "0102", "RND", None, 2, None, True, True, False, None),
        ("visit", "0102", "SCR", None, 4, None, True, True, False, None),
        ("visit", "0102", "W04", None, None, None, False, False, False, "not_eligible: not verified (no SDV) by the as-of date"),
        ("site_payment", "0101", "RND", "P2", None, None, True, False, False, None),
        ("site_payment", "0101", "SCR", "P1", None, None, True, False, False, None),
        ("site_payment", "0101", "W04", "P5", None, None, False, False, False,
         "visit_not_eligible: its visit is not verified (no SDV) by the as-of date"),
        ("site_payment", "0102", "RND", "P4", None, None, True, False, False, None),
        ("site_payment", "0102", "SCR", "P3", None, None, True, False, False, None),
    ]


def test_closeout_evidence_sets_the_cro_lpi_from_the_last_randomization_before_db_lock(operations_warehouse):
    # ST-B CRO: first close-out event DB lock 15 Apr; GB-002 randomized 20 Jan is the last on
    # or before it (the CRO's LPI); GB-001 (10 Oct 2025) is earlier; GB-003 (1 May) is after.
    # ST-A is still enrolling: no close-out event, so its randomization sets nothing.
    assert rows(operations_warehouse, "select study_id, subject_id, milestone_date, sets, exclusion_reason, file_name, row_number "
                                      "from marts.evidence_closeout where record_kind = 'randomization' order by study_id, subject_id") == [
        ("ST-A", "FR-PAR-01-001", date(2026, 5, 19), None,
         "no_closeout_yet: the CRO LPI is the last randomization on or before the first close-out event of the study, and it has none",
         "events__20260601T030000Z.jsonl", 4),
        ("ST-B", "GB-001", date(2025, 10, 10), None,
         "not_last: the last randomization on or before the first close-out event is on 2026-01-20", "events__20260515T030000Z.jsonl", 15),
        ("ST-B", "GB-002", date(2026, 1, 20), "lpi_date", None, "events__20260515T030000Z.jsonl", 17),
        ("ST-B", "GB-003", date(2026, 5, 1), None,
         "after_first_closeout: randomized after the first close-out event of the study, on 2026-04-15", "events__20260515T030000Z.jsonl", 20),
    ]


def test_site_readiness_evidence_of_the_cro_hand_checked(operations_warehouse):
    # CRO, ST-A: 0101 READY since its SIV of 15 May, three items (SYS voided by E-06 is gone);
    # 0102 IN_PROGRESS since SELECTED on 1 Mar; 0201 has no item (E-41 held): PLANNED since the
    # protocol final of 10 Jan, the one site whose state that record dates.
    assert rows(operations_warehouse, "select site_code, milestone_code, pack_state, sets from marts.evidence_site_readiness "
                                      "where perspective = 'cro' and study_id = 'ST-A' order by site_code, milestone_code") == [
        ("0101", "PROTOCOL_FINAL", "READY", None),
        ("0101", "SITE_CONTRACT_SIGNED", "READY", "contract_signed_date; pack_items_done"),
        ("0101", "SITE_IRB_APPROVED", "READY", "irb_approved_date; pack_items_done"),
        ("0101", "SITE_READY", "READY", "site_ready_date; state_entered_date"),
        ("0101", "SITE_SELECTED", "READY", "selected_date; pack_items_done"),
        ("0102", "PROTOCOL_FINAL", "IN_PROGRESS", None),
        ("0102", "SITE_IRB_APPROVED", "IN_PROGRESS", "irb_approved_date; pack_items_done"),
        ("0102", "SITE_SELECTED", "IN_PROGRESS", "selected_date; pack_items_done; state_entered_date"),
        ("0201", "PROTOCOL_FINAL", "PLANNED", "state_entered_date"),
    ]


def _models() -> dict[str, dict]:
    from cg_evidence.declarations import _models as manifest_models

    return manifest_models()
