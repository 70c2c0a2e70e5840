"""Ingestion against a real DuckDB file: counts, ledger, idempotency, bad input."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from orchestration.contract import load_contract
from orchestration.ingest import loader
from orchestration.ingest.deliveries import unrecognised_files

from conftest import FEED_EXAMPLES, ingest_everything, write_delivery

SITES_HEADER = "CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\n"


def ledger(con):
    return con.execute(
        "select source, file_name, status, rows_loaded, rows_quarantined, reason, duplicate_of "
        "from audit.delivery_ledger order by extract_at, source, file_name"
    ).fetchall()


def table_rows(con, table):
    return con.execute(f"select * exclude (_loaded_at) from raw.{table} order by all").fetchall()


@pytest.fixture
def examples_landing(landing):
    """The contract's examples, re-stamped: their file names all say 5 January 2026, but
    some rows happened later, which the gate rightly holds as future dates (see below)."""
    for source in ("sponsor", "cro-acme"):
        for example in (FEED_EXAMPLES / source).iterdir():
            later = example.name.replace("20260105T", "20260301T")
            write_delivery(landing, source, later, example.read_bytes())
    return landing


def test_rows_dated_after_their_extract_time_are_held_as_future_dates(con, landing, archive):
    for source in ("sponsor", "cro-acme"):
        shutil.copytree(FEED_EXAMPLES / source, landing / source)

    ingest_everything(con, landing, archive)

    held = con.execute("select feed, row_number, reason from audit.ingest_quarantine order by feed, row_number").fetchall()
    assert [(feed, row) for feed, row, _ in held] == [
        ("events", 2), ("events", 3), ("events", 4), ("events", 5), ("site_payments", 1), ("visits", 1), ("visits", 2),
    ]
    assert held[5][2] == (
        "future_date: VisitDate='19-Jan-2026' is after the delivery's extract time 2026-01-05T03:00:00Z; "
        "future_date: SdvDate='27-Jan-2026' is after the delivery's extract time 2026-01-05T03:00:00Z; "
        "future_date: UpdatedAt='2026-01-27T16:30:00+01:00' is after the delivery's extract time 2026-01-05T03:00:00Z"
    )


def test_feed_examples_land_row_for_row(con, examples_landing, archive):
    outcomes = ingest_everything(con, examples_landing, archive)

    assert [o.status for o in outcomes] == ["loaded"] * 14
    counts = {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in [f.table for f in load_contract().feeds]}
    assert counts == {
        "sponsor__studies": 1, "sponsor__country_plan": 2, "sponsor__enrollment_plan": 4,
        "sponsor__visit_schedule": 4, "sponsor__milestones": 3, "sponsor__forecast": 3,
        "sponsor__invoices": 1, "cro__studies": 1, "cro__sites": 3, "cro__events": 5,
        "cro__visits": 2, "cro__rate_card": 3, "cro__accruals": 1, "cro__site_payments": 1,
    }


def test_lineage_points_back_to_file_and_row(con, examples_landing, archive):
    ingest_everything(con, examples_landing, archive)

    rows = con.execute(
        "select event_id, deviation_id, _source, _cro_id, _file_name, _row_number, cast(_extract_at as varchar) "
        "from raw.cro__events order by _row_number"
    ).fetchall()
    assert rows[0] == ("ACM-EV-000981", None, "cro-acme", "acme", "events__20260301T030000Z.jsonl", 1, "2026-03-01 03:00:00")
    assert rows[4][:2] == ("ACM-EV-001502", "PD-0007")
    file_bytes = (examples_landing / "cro-acme" / "events__20260301T030000Z.jsonl").read_bytes()
    assert con.execute("select distinct _file_sha256 from raw.cro__events").fetchall() == [(hashlib.sha256(file_bytes).hexdigest(),)]


def test_second_ingest_of_same_folder_changes_nothing(con, examples_landing, archive):
    ingest_everything(con, examples_landing, archive)
    before = {f.table: table_rows(con, f.table) for f in load_contract().feeds}
    ledger_before = con.execute("select * from audit.delivery_ledger order by all").fetchall()

    assert ingest_everything(con, examples_landing, archive) == []

    assert {f.table: table_rows(con, f.table) for f in load_contract().feeds} == before
    assert con.execute("select * from audit.delivery_ledger order by all").fetchall() == ledger_before


def test_every_delivery_is_archived_read_only(con, examples_landing, archive):
    ingest_everything(con, examples_landing, archive)

    paths = [row[0] for row in con.execute("select archive_path from audit.delivery_ledger").fetchall()]
    assert len(paths) == 14
    for path in map(Path, paths):
        assert path.exists()
        assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    original = examples_landing / "cro-acme" / "sites__20260301T030000Z.csv"
    archived = next(p for p in map(Path, paths) if p.name.endswith("sites__20260301T030000Z.csv"))
    assert archived.read_bytes() == original.read_bytes()


def test_deliveries_apply_in_extract_time_order(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20260112T030000Z.csv", SITES_HEADER + "S1,B,0102,France,Activated\n")
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES_HEADER + "S1,A,0101,France,Selected\n")
    write_delivery(landing, "cro-zenith", "sites__20260106T030000Z.csv", SITES_HEADER + "Z1,Z00001,0101,USA,Selected\n")

    ingest_everything(con, landing, archive)

    assert [(s, f) for s, f, *_ in ledger(con)] == [
        ("cro-acme", "sites__20260105T030000Z.csv"),
        ("cro-zenith", "sites__20260106T030000Z.csv"),
        ("cro-acme", "sites__20260112T030000Z.csv"),
    ]


def test_same_bytes_under_a_new_name_are_a_duplicate(con, landing, archive):
    events = '{"event_id":"E1","type":"CTRY_READY","study":"S1","country":"France","site":null,"subject":null,"at":"2026-01-01T10:00:00+01:00","recorded_at":"2026-01-02T10:00:00+01:00","supersedes":null}\n'
    write_delivery(landing, "cro-acme", "events__20260105T030000Z.jsonl", events)
    write_delivery(landing, "cro-acme", "events__20260112T030000Z.jsonl", events)

    ingest_everything(con, landing, archive)

    first_id = con.execute("select delivery_id from audit.delivery_ledger where file_name like '%0105%'").fetchall()[0][0]
    assert ledger(con)[1][2:] == ("duplicate", 0, 0, f"duplicate: the same bytes were already loaded as {first_id}", first_id)
    assert con.execute("select count(*) from raw.cro__events").fetchall() == [(1,)]


def test_snapshot_returning_to_an_earlier_state_is_loaded_again(con, landing, archive):
    state_a = SITES_HEADER + "S1,A,0101,France,Selected\n"
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", state_a)
    write_delivery(landing, "cro-acme", "sites__20260112T030000Z.csv", SITES_HEADER + "S1,A,0101,France,Activated\n")
    write_delivery(landing, "cro-acme", "sites__20260119T030000Z.csv", state_a)
    write_delivery(landing, "cro-acme", "sites__20260126T030000Z.csv", state_a)

    ingest_everything(con, landing, archive)

    assert [row[2] for row in ledger(con)] == ["loaded", "loaded", "loaded", "duplicate"]


def test_a_file_overwritten_with_other_bytes_is_rejected_and_kept(con, landing, archive):
    path = write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES_HEADER + "S1,A,0101,France,Selected\n")
    ingest_everything(con, landing, archive)
    path.write_text(SITES_HEADER + "S1,A,0101,France,Activated\n")

    ingest_everything(con, landing, archive)

    status, reason = ledger(con)[1][2], ledger(con)[1][5]
    assert status == "rejected"
    assert reason.startswith("conflicting_redelivery: sites__20260105T030000Z.csv was already delivered with other bytes")
    assert len(list((archive / "cro-acme").glob("*.csv"))) == 2


@pytest.mark.parametrize(
    ("file_name", "content", "reason"),
    [
        ("sites__20260105T030000Z.csv", b"", "empty_file: the file has no bytes; resend it with its header and rows"),
        ("sites__20260105T030000Z.csv", SITES_HEADER.encode(),
         "empty_snapshot: a snapshot carries the full current state, and one without rows would erase it; resend the full extract"),
        ("sites__20260105T030000Z.csv", b"CroStudyRef,SiteCode,SponsorSiteNo,Country\nS1,A,0101,France\n", "missing_columns: Status"),
        ("sites__20260105T030000Z.csv", b"CroStudyRef,SiteCode,SponsorSiteNo,CountryName,Status\nS1,A,0101,France,Selected\n",
         "missing_columns: Country; unexpected columns CountryName (renamed?)"),
        ("sites__20260105T030000Z.csv", b"CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\nS1,A,0101,Espa\xf1a,Selected\n",
         "not_utf8: byte 0xF1 on line 2 is not UTF-8 (Latin-1 or Windows-1252 export?); re-export the file as UTF-8"),
        ("sites__20260105T030000Z.csv", b"CroStudyRef,CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\n",
         "duplicate_columns: CroStudyRef appear more than once in the header"),
        ("events__20260105T030000Z.jsonl", b'{"eventId":"E1","type":"VOID","study":"S","country":null,"site":null,"subject":null,"at":"x","recorded_at":"y","supersedes":null}\n',
         "missing_columns: no line carries event_id; unexpected keys eventId (renamed?)"),
    ],
    ids=["empty file", "header-only snapshot", "missing column", "renamed column", "latin-1 bytes", "duplicate header", "renamed json key"],
)
def test_deliveries_breaking_the_contract_are_rejected_whole(con, landing, archive, file_name, content, reason):
    write_delivery(landing, "cro-acme", file_name, content)

    outcomes = ingest_everything(con, landing, archive)

    assert [(o.status, o.reason) for o in outcomes] == [("rejected", reason)]
    assert ledger(con)[0][2:6] == ("rejected", 0, 0, reason)
    assert len(list((archive / "cro-acme").glob(f"*-{file_name}"))) == 1  # kept, not lost


def test_header_only_incremental_delivery_is_an_empty_load(con, landing, archive):
    header = ",".join(load_contract().feed("cro", "visits").column_names) + "\n"
    write_delivery(landing, "cro-acme", "visits__20260105T030000Z.csv", header)

    outcomes = ingest_everything(con, landing, archive)

    assert [(o.status, o.rows_loaded) for o in outcomes] == [("loaded", 0)]


def test_broken_rows_are_quarantined_and_the_rest_loads(con, landing, archive):
    content = (
        "\ufeff" + SITES_HEADER
        + "S1,A,0101,France,Selected\n"
        + 'S1,"B, with comma",0102,France,Activated,EXTRA\n'
        + "S1,C,0103,Fran\x00ce,Selected\n"
        + "S1,D,0104,Germany,Selected\n"
        + "S1,E,01"
    )
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", content)

    outcomes = ingest_everything(con, landing, archive)

    assert [(o.status, o.rows_loaded, o.rows_quarantined) for o in outcomes] == [("loaded", 2, 3)]
    assert con.execute('select "SiteCode", _row_number from raw.cro__sites order by _row_number').fetchall() == [("A", 1), ("D", 4)]
    assert con.execute("select row_number, raw_values, reason from audit.ingest_quarantine order by row_number").fetchall() == [
        (2, 'S1,"B, with comma",0102,France,Activated,EXTRA', "wrong_field_count: expected 5 fields, found 6"),
        (3, "S1,C,0103,Fran\x00ce,Selected", "nul_byte: the row contains a NUL byte"),
        (5, "S1,E,01", "truncated_last_line: expected 5 fields, found 3; the file ends mid-row"),
    ]


def test_json_lines_that_are_not_objects_are_quarantined(con, landing, archive):
    good = '{"event_id":"E%d","type":"CTRY_READY","study":"S1","country":"France","site":null,"subject":null,"at":"2026-01-01T10:00:00+01:00","recorded_at":"2026-01-02T10:00:00+01:00","supersedes":null,"extra_key":1}'
    content = "\n".join([good % 1, '{"event_id": "E2", "type": ', "", "[1, 2]", good % 5]) + "\n"
    write_delivery(landing, "cro-acme", "events__20260105T030000Z.jsonl", content)

    outcomes = ingest_everything(con, landing, archive)

    assert [(o.status, o.rows_loaded, o.rows_quarantined) for o in outcomes] == [("loaded", 2, 2)]
    assert con.execute("select event_id, _row_number from raw.cro__events order by 2").fetchall() == [("E1", 1), ("E5", 5)]
    assert con.execute("select row_number, reason from audit.ingest_quarantine order by 1").fetchall() == [
        (2, "invalid_json: the line is not valid JSON"),
        (4, "not_an_object: the line is JSON but not an object"),
    ]
    assert con.execute("select extra_columns from audit.delivery_ledger").fetchall() == [("extra_key",)]


def test_a_100_000_character_field_is_read_whole(con, landing, archive):
    long_name = "x" * 100_000
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES_HEADER + f"S1,A,0101,{long_name},Selected\n")

    ingest_everything(con, landing, archive)

    assert con.execute('select length("Country") from raw.cro__sites').fetchall() == [(100_000,)]


def test_files_being_uploaded_are_ignored_and_strays_reported(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv.part", SITES_HEADER + "S1,A,0101,France,Selected\n")
    write_delivery(landing, "cro-acme", ".sites__20260105T030000Z.csv", SITES_HEADER)
    write_delivery(landing, "cro-acme", "sites-2026-01-05.csv", SITES_HEADER)
    write_delivery(landing, "cro-acme", "events__20260105T030000Z.csv", SITES_HEADER)
    write_delivery(landing, "cro-acme", "budget__20260105T030000Z.csv", SITES_HEADER)

    assert ingest_everything(con, landing, archive) == []
    assert sorted(p.name for p in unrecognised_files(landing, load_contract())) == [
        "budget__20260105T030000Z.csv", "events__20260105T030000Z.csv", "sites-2026-01-05.csv",
    ]


def test_a_crash_mid_load_leaves_nothing_and_the_next_run_completes(con, landing, archive, monkeypatch):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES_HEADER + "S1,A,0101,France,Selected\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-load")

    with monkeypatch.context() as patched:
        patched.setattr(loader, "_record", crash)
        with pytest.raises(KeyboardInterrupt):
            ingest_everything(con, landing, archive)
    assert con.execute("select count(*) from raw.cro__sites").fetchall() == [(0,)]
    assert ledger(con) == []

    ingest_everything(con, landing, archive)

    assert con.execute("select count(*) from raw.cro__sites").fetchall() == [(1,)]
    assert [row[2] for row in ledger(con)] == ["loaded"]
