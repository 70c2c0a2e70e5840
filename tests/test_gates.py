"""The catalogue of bad inputs, each with its exact outcome: what the contract gate holds
and why, what the receipt tells the sender, and that nothing is lost (rows in = accepted +
quarantined + rejected + already loaded; rejected files stay in the archive).

Whole-file rejections (empty file, header only, missing, renamed or duplicated columns,
Latin-1 bytes), structural row problems (truncated last line, NUL byte, wrong field
count, a JSON line that is not JSON) and the 100 000-character field are in
test_ingest.py; unknown country names and visit codes (mapping gaps, not contract codes)
are held by the conformed layer, in test_conform.py. Each of those is also receipted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.gates.suites import PROJECT_ROOT, expected_raw_suites, load_suite
from orchestration.warehouse import connect
from tests.conftest import ingest_everything, run_pipeline, settings_for, write_delivery

VISITS = "CroStudyRef,SiteCode,SubjectId,VisitCode,VisitDate,SdvDate,FinanceState,UpdatedAt\n"
PAYMENTS = "PaymentId,CroStudyRef,SiteCode,SubjectId,VisitCode,Amount,Currency,PayableDate,PaidDate,Status,UpdatedAt\n"
SITES = "CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\n"
EVENT = (
    '{{"event_id":"{id}","type":"{type}","study":"S1","country":"France","site":null,"subject":null,'
    '"at":"{at}","recorded_at":"{recorded}","supersedes":null}}\n'
)


def visit(subject: str, visit_date: str = "03-Nov-2026", sdv: str = "04-Nov-2026", updated: str = "2026-11-04T10:00:00Z") -> str:
    return f"S1,A,{subject},SCRN,{visit_date},{sdv},NE,{updated}\n"


def receipt_of(con, file_name: str, source: str = "%") -> dict:
    ((text, path),) = con.execute(
        "select receipt, receipt_path from audit.delivery_receipts where file_name = ? and source like ?", [file_name, source]
    ).fetchall()
    receipt = json.loads(text)
    rows = receipt["rows"]
    assert rows["in"] == rows["accepted"] + rows["quarantined"] + rows["rejected"] + rows["already_loaded"]
    assert json.loads(Path(path).read_text()) == receipt
    return receipt


def held(con) -> list[tuple[int, str]]:
    return con.execute("select row_number, reason from audit.ingest_quarantine order by row_number").fetchall()


def raw_count(con, table: str) -> int:
    return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        (visit("A-001", visit_date="03/11/2026"),
         "invalid_format: VisitDate='03/11/2026' is not a date as DD-MMM-YYYY (e.g. 03-Nov-2026)"),
        (visit("A-001", sdv="01-Nov-2026"), "out_of_order: SdvDate='01-Nov-2026' is before VisitDate='03-Nov-2026'"),
        (visit("A-001", visit_date="30-Nov-2026", sdv=""),
         "future_date: VisitDate='30-Nov-2026' is after the delivery's extract time 2026-11-10T03:00:00Z"),
        ("S1,A,A-001,SCRN,03-Nov-2026,04-Nov-2026,XX,2026-11-04T10:00:00Z\n",
         "unknown_code: FinanceState='XX' is not one of NE, EL, PY, PD, HD"),
        ("S1,A,,SCRN,03-Nov-2026,04-Nov-2026,NE,2026-11-04T10:00:00Z\n", "missing_value: SubjectId is empty but required"),
        (visit("A-001", visit_date="29-Feb-2025", sdv=""),
         "invalid_format: VisitDate='29-Feb-2025' is not a date as DD-MMM-YYYY (e.g. 03-Nov-2026)"),
        (visit("A-001", visit_date="31-Apr-2026", sdv=""),
         "invalid_format: VisitDate='31-Apr-2026' is not a date as DD-MMM-YYYY (e.g. 03-Nov-2026)"),
        (visit("A-001", visit_date="\uff10\uff13-Nov-2026", sdv=""),
         "invalid_format: VisitDate='\uff10\uff13-Nov-2026' is not a date as DD-MMM-YYYY (e.g. 03-Nov-2026)"),
        (visit("A-001", updated="2026-02-30T10:00:00Z"),
         "invalid_format: UpdatedAt='2026-02-30T10:00:00Z' is not an ISO 8601 timestamp with Z or an offset"),
    ],
    ids=["wrong date format", "sdv before visit", "future date", "unknown code", "missing required value",
         "29 February of a common year", "31 April", "full-width digits in a date", "30 February in a timestamp"],
)
def test_a_bad_visit_row_is_held_with_its_reason_and_the_rest_loads(con, landing, archive, rows, reason):
    good = "".join(visit(f"A-{n:03}") for n in range(2, 12))
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", VISITS + rows + good)

    (outcome,) = ingest_everything(con, landing, archive)

    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 10, 1)
    assert held(con) == [(1, reason)]
    assert raw_count(con, "cro__visits") == 10
    receipt = receipt_of(con, "visits__20261110T030000Z.csv")
    assert receipt["rows"] == {"in": 11, "accepted": 10, "quarantined": 1, "rejected": 0, "already_loaded": 0}
    code = reason.split(":")[0]
    assert receipt["quarantine_reasons"] == [{"reason": code, "count": 1, "example_rows": [1], "example": reason}]
    assert receipt["gate"]["passed"] is True  # 1 row in 11 is within the governed tolerance: held, not blocking
    assert receipt["gate"]["suite"] == "raw__cro__visits"
    assert Path(receipt["gate"]["data_docs"]).read_text().count("<html") == 1


def test_an_amount_with_a_decimal_comma_and_a_negative_amount_are_held(con, landing, archive):
    payment = "P{n},S1,A,A-001,SCRN,{amount},EUR,03-Nov-2026,,PAYABLE,2026-11-04T10:00:00Z\n"
    rows = [payment.format(n=1, amount='"12,50"'), payment.format(n=2, amount="-12.50"),
            payment.format(n=3, amount="\u0661\u0662.50"), payment.format(n=4, amount="9999999999999999.99")]
    rows += [payment.format(n=n, amount="12.50") for n in range(5, 41)]
    write_delivery(landing, "cro-acme", "site_payments__20261110T030000Z.csv", PAYMENTS + "".join(rows))

    ingest_everything(con, landing, archive)

    assert held(con) == [
        (1, "invalid_format: Amount='12,50' is not a decimal number with '.' as separator"),
        (2, "negative_value: Amount='-12.50' is below 0"),
        (3, "invalid_format: Amount='\u0661\u0662.50' is not a decimal number with '.' as separator"),
        (4, "out_of_range: Amount='9999999999999999.99' is above 1000000000; check the amount and its unit, and resend the row"),
    ]
    assert raw_count(con, "cro__site_payments") == 36
    assert json.loads(con.execute("select raw_values from audit.ingest_quarantine where row_number = 1").fetchall()[0][0])["Amount"] == "12,50"


@pytest.mark.parametrize("part_rows", [1_000_000, 4], ids=["validated whole", "validated in parts of 4 rows"])
def test_duplicate_keys_inside_one_file_are_all_held_and_exact_repeats_counted_once(con, landing, archive, monkeypatch, part_rows):
    monkeypatch.setattr("orchestration.ingest.gate.PART_ROWS", part_rows)
    rows = [
        visit("A-001"),
        visit("A-001", sdv="05-Nov-2026"),  # same key and UpdatedAt, other values: which is right?
        visit("A-002"),
        visit("A-002"),  # the same row twice: counted once
        visit("A-002", sdv="06-Nov-2026", updated="2026-11-06T10:00:00Z"),  # a later version of the key: history
    ] + [visit(f"A-{n:03}") for n in range(3, 23)]
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", VISITS + "".join(rows))

    ingest_everything(con, landing, archive)

    key = "key (CroStudyRef, SiteCode, SubjectId, VisitCode, UpdatedAt)=('S1', 'A', 'A-001', 'SCRN', '2026-11-04T10:00:00Z')"
    assert held(con) == [
        (1, f"duplicate_key: {key} occurs more than once in this delivery, with different values"),
        (2, f"duplicate_key: {key} occurs more than once in this delivery, with different values"),
        (4, "repeated_row: identical to row 3 of this delivery, already counted"),
    ]
    assert raw_count(con, "cro__visits") == 22
    receipt = receipt_of(con, "visits__20261110T030000Z.csv")
    assert receipt["rows"] == {"in": 25, "accepted": 22, "quarantined": 3, "rejected": 0, "already_loaded": 0}
    assert [(r["reason"], r["count"], r["example_rows"]) for r in receipt["quarantine_reasons"]] == [
        ("duplicate_key", 2, [1, 2]), ("repeated_row", 1, [4]),
    ]
    assert receipt["gate"]["passed"] is True


def test_rows_delivered_again_in_a_later_file_are_not_counted_twice(con, landing, archive):
    first = [visit(f"A-{n:03}") for n in range(1, 4)]
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", VISITS + "".join(first))
    write_delivery(landing, "cro-acme", "visits__20261117T030000Z.csv", VISITS + first[2] + visit("A-004"))

    ingest_everything(con, landing, archive)

    assert raw_count(con, "cro__visits") == 4
    (first_id,) = con.execute("select delivery_id from audit.delivery_ledger where file_name like '%1110%'").fetchall()[0]
    assert held(con) == [(1, f"repeated_row: identical to {first_id} row 3, already counted")]
    assert receipt_of(con, "visits__20261117T030000Z.csv")["rows"]["quarantined"] == 1


def test_an_extra_column_is_accepted_and_reported(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv",
                   "CroStudyRef,SiteCode,SponsorSiteNo,Country,Status,Region\nS1,A,0101,France,Selected,EU\n")

    ingest_everything(con, landing, archive)

    assert raw_count(con, "cro__sites") == 1
    receipt = receipt_of(con, "sites__20261110T030000Z.csv")
    assert (receipt["status"], receipt["extra_columns"], receipt["rows"]["accepted"]) == ("loaded", ["Region"], 1)


def test_a_utf8_bom_is_tolerated(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv", b"\xef\xbb\xbf" + (SITES + "S1,A,0101,France,Selected\n").encode())

    ingest_everything(con, landing, archive)

    assert con.execute('select "CroStudyRef", "Status" from raw.cro__sites').fetchall() == [("S1", "Selected")]


def test_events_recorded_before_they_happened_are_held_and_late_records_accepted(con, landing, archive):
    events = [
        EVENT.format(id="E1", type="CTRY_READY", at="2026-11-02T10:00:00+01:00", recorded="2026-11-01T10:00:00+01:00"),
        # recorded late, and delivered after later events: accepted, dated by `at`
        EVENT.format(id="E2", type="CTRY_APPROVED", at="2026-09-01T10:00:00+01:00", recorded="2026-11-05T10:00:00+01:00"),
        EVENT.format(id="E3", type="OPENED", at="2026-11-02T10:00:00+01:00", recorded="2026-11-03T10:00:00+01:00"),
    ]
    write_delivery(landing, "cro-acme", "events__20261110T030000Z.jsonl", "".join(events))

    ingest_everything(con, landing, archive)

    assert held(con) == [
        (1, "out_of_order: recorded_at='2026-11-01T10:00:00+01:00' is before at='2026-11-02T10:00:00+01:00'"),
        (3, "unknown_code: type='OPENED' is not one of CTRY_APPROVED, CTRY_READY, SITE_SELECTED, SITE_IRB_OK, "
            "SITE_CTA_SIGNED, SITE_SYSTEMS_READY, SITE_SIV, SUBJ_SCREENED, SUBJ_RANDOMIZED, SUBJ_SCREEN_FAIL, "
            "SUBJ_WITHDRAWN, DEV_OPENED, DEV_CLOSED, RISK_OPENED, RISK_CLOSED, DB_LOCK, TMF_RECON, FIN_RECON, VOID"),
    ]
    assert con.execute("select event_id from raw.cro__events").fetchall() == [("E2",)]
    receipt = receipt_of(con, "events__20261110T030000Z.jsonl")
    assert receipt["gate"]["passed"] is True  # one row per rule: below the 5 rows a rule needs to block


@pytest.mark.parametrize(
    ("file_name", "content", "rows_in", "rejected", "quarantined", "reason"),
    [
        ("sites__20261110T030000Z.csv", b"", 0, 0, 0, "empty_file"),
        ("sites__20261110T030000Z.csv", SITES.encode(), 0, 0, 0, "empty_snapshot"),
        ("sites__20261110T030000Z.csv", b"CroStudyRef,SiteCode,SponsorSiteNo,CountryName,Status\nS1,A,0101,France,Selected\n", 1, 1, 0, "missing_columns"),
        ("sites__20261110T030000Z.csv", (SITES + "S1,A,0101,Espa\xf1a,Selected\n").encode("latin-1"), 1, 1, 0, "not_utf8"),
        ("sites__20261110T030000Z.csv", (SITES + "S1,A,0101,France,Selected\nS1,B,0102,Fran\x00ce,Selected\nS1,C,01").encode(), 3, 0, 2, None),
        ("events__20261110T030000Z.jsonl", b'{"event_id": "E1", "type": \n', 1, 0, 1, None),
    ],
    ids=["empty file", "header only", "renamed column", "latin-1", "nul byte and truncated last line", "not json"],
)
def test_every_delivery_gets_a_receipt_that_adds_up(con, landing, archive, file_name, content, rows_in, rejected, quarantined, reason):
    write_delivery(landing, "cro-acme", file_name, content)

    ingest_everything(con, landing, archive)

    receipt = receipt_of(con, file_name)
    assert (receipt["rows"]["in"], receipt["rows"]["rejected"], receipt["rows"]["quarantined"]) == (rows_in, rejected, quarantined)
    assert (receipt["reason"] or "").split(":")[0] == (reason or "")
    assert Path(receipt["archived_as"]).read_bytes() == content  # kept, whatever happened


def test_a_second_identical_delivery_is_receipted_as_already_loaded(con, landing, archive):
    content = VISITS + visit("A-001") + visit("A-002")
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", content)
    write_delivery(landing, "cro-acme", "visits__20261110T040000Z.csv", content)

    ingest_everything(con, landing, archive)

    receipt = receipt_of(con, "visits__20261110T040000Z.csv")
    assert (receipt["status"], receipt["rows"]["already_loaded"], receipt["gate"]) == ("duplicate", 2, None)
    assert raw_count(con, "cro__visits") == 2


def test_severity_comes_from_governance_and_changes_the_suite_version(monkeypatch):
    from orchestration.gates import suites

    chronology = suites.load_suite("conformed__int_milestones__site_chronology")
    visits = suites.load_suite("raw__cro__visits")
    assert {e["severity"] for e in chronology.expectations} == {"warning"}
    assert {e["severity"] for e in visits.expectations} == {"critical"}
    assert (visits.blocks(4, 10), visits.blocks(5, 50), visits.blocks(6, 50), visits.blocks(6, 60)) == (False, False, True, False)
    assert chronology.blocks(1, 1000)  # a model gate has no row tolerance

    monkeypatch.setattr(suites, "governance", lambda: {"default": "warn", "row_tolerance": 0.2, "min_rows_to_block": 5})
    relaxed = suites.load_suite("raw__cro__visits")
    assert {e["severity"] for e in relaxed.expectations} == {"warning"}
    assert relaxed.version != visits.version and relaxed.version.startswith("1.2.0+")


def test_the_raw_suites_are_the_contract():
    result = subprocess.run([sys.executable, "-m", "orchestration.gates.suites", "--check"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    assert len(expected_raw_suites()) == 14
    assert [e["meta"]["reason"] for e in load_suite("raw__sponsor__invoices").expectations] == [
        "missing_value", "missing_value", "missing_value", "missing_value", "invalid_format", "future_date",
        "missing_value", "missing_value", "invalid_format", "negative_value", "out_of_range", "missing_value", "missing_value",
        "unknown_code", "invalid_format", "future_date", "out_of_order", "missing_value", "invalid_format",
        "future_date", "duplicate_key",
    ]


def test_a_delivery_validated_in_parts_blocks_on_its_whole_count(con, landing, archive, monkeypatch):
    """6 of 12 rows break one rule: no part of 4 rows reaches the 5 rows a rule needs to
    block, the delivery as a whole does."""
    monkeypatch.setattr("orchestration.ingest.gate.PART_ROWS", 4)
    rows = [visit(f"A-{n:03}", visit_date="03/11/2026") for n in range(1, 7)] + [visit(f"A-{n:03}") for n in range(7, 13)]
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", VISITS + "".join(rows))

    (outcome,) = ingest_everything(con, landing, archive)

    (blocking,) = [o for o in outcome.gate.outcomes if o.blocks]
    assert (blocking.reason, blocking.unexpected_count, sorted(blocking.row_numbers)) == ("invalid_format", 6, [1, 2, 3, 4, 5, 6])
    assert (outcome.gate.rows, outcome.rows_loaded, outcome.rows_quarantined, outcome.gate.passed) == (12, 6, 6, False)
    assert len(outcome.gate.validation_ids) == 3


def test_a_delivery_failing_its_gate_as_a_whole_is_held_and_the_rest_flows_on(tmp_path, landing):
    """Half the rows of acme's delivery break one rule: a systematic problem. That
    delivery is held (kept in held.cro__visits, out of raw); zenith's delivery of the same
    feed loads, the blocking check passes for it, its warnings twin reports the held
    delivery, and Dagster builds the staging model on top."""
    rows = [visit(f"A-{n:03}", visit_date="03/11/2026") for n in range(1, 7)] + [visit(f"A-{n:03}") for n in range(7, 13)]
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", VISITS + "".join(rows))
    write_delivery(landing, "cro-zenith", "visits__20261110T030000Z.csv", VISITS + visit("Z-001") + visit("Z-002"))
    import dagster as dg

    settings = settings_for(tmp_path, landing)
    result = run_pipeline(
        settings,
        selection=dg.AssetSelection.assets(["raw", "cro__visits"]).downstream(depth=1, include_self=True),
        raise_on_error=False,
    )

    checks = {check.check_name: check for check in result.get_asset_check_evaluations()}
    assert (checks["contract_gate"].passed, checks["contract_gate_warnings"].passed) == (True, False)
    assert checks["contract_gate_warnings"].severity == dg.AssetCheckSeverity.WARN
    assert checks["contract_gate_warnings"].metadata["deliveries_held"].value.startswith(
        "- cro-acme/visits__20261110T030000Z.csv#"
    )
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"raw/cro__visits", "staging/stg_cro__visits"} <= materialized
    assert result.success
    with connect(settings.warehouse, read_only=True) as con:
        assert con.execute("select _source, count(*) from raw.cro__visits group by all").fetchall() == [("cro-zenith", 2)]
        assert con.execute("select _source, count(*) from held.cro__visits group by all").fetchall() == [("cro-acme", 6)]
        assert con.execute("select source, status, rows_loaded, rows_quarantined from audit.delivery_ledger order by source").fetchall() == [
            ("cro-acme", "held", 6, 6), ("cro-zenith", "loaded", 2, 0),
        ]
        receipt = receipt_of(con, "visits__20261110T030000Z.csv", source="cro-acme")
    assert receipt["status"] == "held"
    assert receipt["rows"] == {"in": 12, "accepted": 6, "quarantined": 6, "rejected": 0, "already_loaded": 0}
    assert receipt["reason"].startswith(
        "held: the contract gate blocks (invalid_format in VisitDate on 6 of 12 rows), beyond the governed tolerance; "
    )
    assert "cg-release release 'cro-acme/visits__20261110T030000Z.csv#" in receipt["reason"]


def test_the_same_payment_row_from_two_cros_is_loaded_for_each(con, landing, archive):
    row = "P1,S1,A,A-001,SCRN,12.50,EUR,03-Nov-2026,,PAYABLE,2026-11-04T10:00:00Z\n"
    write_delivery(landing, "cro-acme", "site_payments__20261110T030000Z.csv", PAYMENTS + row)
    write_delivery(landing, "cro-zenith", "site_payments__20261111T030000Z.csv", PAYMENTS + row)

    ingest_everything(con, landing, archive)

    assert held(con) == []
    assert con.execute("select _source from raw.cro__site_payments order by 1").fetchall() == [("cro-acme",), ("cro-zenith",)]
    assert receipt_of(con, "site_payments__20261111T030000Z.csv")["rows"]["accepted"] == 1


def test_a_row_repeating_its_file_and_an_earlier_delivery_is_held_once(con, landing, archive):
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", VISITS + visit("A-001"))
    write_delivery(landing, "cro-acme", "visits__20261117T030000Z.csv", VISITS + visit("A-001") + visit("A-001") + visit("A-002"))

    ingest_everything(con, landing, archive)

    (first_id,) = con.execute("select delivery_id from audit.delivery_ledger where file_name like '%1110%'").fetchall()[0]
    assert held(con) == [
        (1, f"repeated_row: identical to {first_id} row 1, already counted"),
        (2, "repeated_row: identical to row 1 of this delivery, already counted"),
    ]
    receipt = receipt_of(con, "visits__20261117T030000Z.csv")
    assert receipt["rows"] == {"in": 3, "accepted": 1, "quarantined": 2, "rejected": 0, "already_loaded": 0}
    assert con.execute("select rows_loaded, rows_quarantined from audit.delivery_ledger where file_name like '%1117%'").fetchall() == [(1, 2)]


@pytest.mark.parametrize(
    ("file_name", "content", "status"),
    [
        ("sites__20261110T030000Z.csv", ('CroStudyRef,SiteCode,SponsorSiteNo,CountryName,Status\n'
                                         'S1,A,0101,"France\nmetropolitan",Selected\nS1,B,0102,France,Selected\n'), "rejected"),
        ("sites__20261117T030000Z.csv", SITES + 'S1,A,0101,"France\nmetropolitan",Selected\nS1,B,0102,France,Selected\n', "duplicate"),
    ],
    ids=["rejected", "duplicate"],
)
def test_receipts_count_records_not_lines(con, landing, archive, file_name, content, status):
    write_delivery(landing, "cro-acme", "sites__20261103T030000Z.csv", SITES + 'S1,A,0101,"France\nmetropolitan",Selected\nS1,B,0102,France,Selected\n')
    write_delivery(landing, "cro-acme", file_name, content)

    ingest_everything(con, landing, archive)

    receipt = receipt_of(con, file_name)
    assert (receipt["status"], receipt["rows"]["in"]) == (status, 2)


def test_a_csv_with_cr_only_line_endings_loads(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv", (SITES + "S1,A,0101,France,Selected\nS1,B,0102,Spain,Selected\n").replace("\n", "\r"))

    (outcome,) = ingest_everything(con, landing, archive)

    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 2, 0)
    assert con.execute('select "SiteCode", "Status" from raw.cro__sites order by 1').fetchall() == [("A", "Selected"), ("B", "Selected")]


def test_a_field_over_128_kib_is_read_whole_in_a_file_with_a_broken_row(con, landing, archive):
    long_name = "x" * 200_000
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv",
                   SITES + f"S1,A,0101,{long_name},Selected\nS1,B,0102,France,Selected,EXTRA\n")

    (outcome,) = ingest_everything(con, landing, archive)

    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 1, 1)
    assert con.execute('select length("Country") from raw.cro__sites').fetchall() == [(200_000,)]


def test_a_json_line_with_a_key_twice_is_held_as_ambiguous(con, landing, archive):
    twice = EVENT.format(id="E1", type="CTRY_READY", at="2026-11-02T10:00:00+01:00", recorded="2026-11-03T10:00:00+01:00")
    twice = twice.replace('"type":"CTRY_READY"', '"type":"CTRY_READY","type":"VOID"')
    fine = EVENT.format(id="E2", type="CTRY_READY", at="2026-11-02T10:00:00+01:00", recorded="2026-11-03T10:00:00+01:00")
    write_delivery(landing, "cro-acme", "events__20261110T030000Z.jsonl", twice + fine)

    (outcome,) = ingest_everything(con, landing, archive)

    assert (outcome.rows_loaded, outcome.rows_quarantined) == (1, 1)
    assert held(con) == [(1, "ambiguous_record: the key type occurs more than once in the line; send each key once")]
    assert con.execute("select event_id from raw.cro__events").fetchall() == [("E2",)]


def test_delivered_values_appear_only_escaped_in_the_data_docs(con, landing, archive):
    payload = "<script>alert(1)</script>"
    rows = f"S1,A,A-001,SCRN,03-Nov-2026,04-Nov-2026,{payload},2026-11-04T10:00:00Z\n" + "".join(visit(f"A-{n:03}") for n in range(2, 12))
    write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", VISITS + rows)

    ingest_everything(con, landing, archive)

    page = Path(receipt_of(con, "visits__20261110T030000Z.csv")["gate"]["data_docs"]).read_text()
    assert "alert(1)" in page
    assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_delivered_values_appear_only_escaped_in_the_check_metadata():
    from orchestration.gates.checks import check_results
    from orchestration.gates.validate import ExpectationOutcome, GateResult

    outcome = ExpectationOutcome(
        reason="unknown_code", expectation="expect_column_values_to_be_in_set", columns=("FinanceState",), severity="error",
        success=False, blocks=False, unexpected_count=1, unexpected_percent=9.09, sample=("'<script>alert(1)</script>'",),
    )
    gate, _ = check_results([GateResult("raw__cro__visits", "1", 11, (outcome,))], gate="contract_gate")

    table = gate.metadata["results"].value
    assert "<script>" not in table
    assert "'&lt;script&gt;alert(1)&lt;/script&gt;'" in table
