"""Ingestion against a real DuckDB file: counts, ledger, idempotency, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from orchestration.contract import load_contract
from orchestration.ingest import loader

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


def test_files_being_uploaded_are_ignored_and_strays_recorded_as_rejected(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv.part", SITES_HEADER + "S1,A,0101,France,Selected\n")
    write_delivery(landing, "cro-acme", ".sites__20260105T030000Z.csv", SITES_HEADER)
    write_delivery(landing, "cro-acme", "sites-2026-01-05.csv", SITES_HEADER)
    write_delivery(landing, "cro-acme", "events__20260105T030000Z.csv", SITES_HEADER)
    write_delivery(landing, "cro-acme", "budget__20260105T030000Z.csv", SITES_HEADER)

    outcomes = ingest_everything(con, landing, archive)

    assert sorted((o.status, o.delivery.file_name) for o in outcomes) == [
        ("rejected", "budget__20260105T030000Z.csv"), ("rejected", "events__20260105T030000Z.csv"),
        ("rejected", "sites-2026-01-05.csv"),
    ]
    assert ingest_everything(con, landing, archive) == []  # recorded once


STRAY_ROW = SITES_HEADER + "S1,A,0101,France,Selected\n"
EXPECTED = "expected <feed>__<YYYYMMDDTHHMMSSZ>.<csv|jsonl> in a source folder 'sponsor/' or 'cro-<cro_id>/'"


@pytest.mark.parametrize(
    ("relative_path", "reason"),
    [
        ("cro-acme/sites__20261399T250000Z.csv",
         "invalid_stamp: 20261399T250000Z is not a real UTC time; expected <feed>__<YYYYMMDDTHHMMSSZ>.<csv|jsonl> "
         "with the extract time, e.g. 20261103T020000Z"),
        ("cro-acme/sites__\uff12\uff10\uff12\uff16\uff11\uff11\uff11\uff10T030000Z.csv",
         "unexpected_name: 'sites__\uff12\uff10\uff12\uff16\uff11\uff11\uff11\uff10T030000Z.csv' does not follow "
         "<feed>__<YYYYMMDDTHHMMSSZ>.<csv|jsonl>; rename it and deliver it again"),
        ("cro-acme/visits__20261110T030000Z (1).csv",
         "unexpected_name: 'visits__20261110T030000Z (1).csv' does not follow <feed>__<YYYYMMDDTHHMMSSZ>.<csv|jsonl>; "
         "rename it and deliver it again"),
        ("cro-acme/budget__20261110T030000Z.csv",
         "unknown_feed: 'budget' is not a cro feed of the contract (accruals, events, rate_card, site_payments, sites, "
         "studies, visits); expected <feed>__<YYYYMMDDTHHMMSSZ>.<csv|jsonl>"),
        ("cro-acme/events__20261110T030000Z.csv",
         "wrong_extension: cro events is delivered as .jsonl; expected events__<YYYYMMDDTHHMMSSZ>.jsonl"),
        ("cro-ACME/sites__20261110T030000Z.csv",
         "unknown_source_folder: 'cro-ACME' is not a source folder (lower-case 'sponsor' or 'cro-<cro_id>' with "
         f"cro_id of a-z, 0-9, _); {EXPECTED}"),
        ("cro-../sites__20261110T030000Z.csv",
         "unknown_source_folder: 'cro-..' is not a source folder (lower-case 'sponsor' or 'cro-<cro_id>' with "
         f"cro_id of a-z, 0-9, _); {EXPECTED}"),
        ("sites__20261110T030000Z.csv", f"unknown_source_folder: sites__20261110T030000Z.csv lies directly in the landing root; {EXPECTED}"),
        ("cro-acme/old/sites__20261110T030000Z.csv",
         f"unexpected_subfolder: cro-acme/old/ is a folder inside a source folder; {EXPECTED}, not in subfolders"),
        ("cro-acme/sites__20991231T000000Z.csv",
         "future_stamp: 20991231T000000Z is later than the time the file was found ({found}) plus the governed "
         "tolerance of 24 h (extract_stamp_tolerance_hours in expectations/governance.yml); check the sender's clock "
         "and deliver it again named <feed>__<YYYYMMDDTHHMMSSZ>.<csv|jsonl> with the real extract time"),
    ],
    ids=["impossible stamp", "full-width digits", "copy suffix", "unknown feed", "wrong extension", "upper-case cro folder",
         "dot-dot cro folder", "landing root", "subfolder", "stamp in 2099"],
)
def test_every_stray_is_recorded_as_rejected_with_the_rule_it_breaks(con, landing, archive, relative_path, reason):
    path = landing / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STRAY_ROW)

    (outcome,) = ingest_everything(con, landing, archive)

    (found,) = con.execute("select strftime(ingested_at, '%Y-%m-%dT%H:%M:%SZ') from audit.delivery_ledger").fetchall()[0]
    expected_reason = reason.format(found=found)
    assert (outcome.status, outcome.reason) == ("rejected", expected_reason)
    assert ledger(con) == [(str(path.parent.relative_to(landing)), path.name, "rejected", 0, 0, expected_reason, None)]
    (receipt,) = con.execute("select receipt from audit.delivery_receipts").fetchall()[0]
    receipt = json.loads(receipt)
    assert (receipt["status"], receipt["reason"], receipt["rows"]) == (
        "rejected", expected_reason, {"in": 1, "accepted": 0, "quarantined": 0, "rejected": 1, "already_loaded": 0},
    )
    assert Path(receipt["archived_as"]).read_text() == STRAY_ROW  # kept, not lost
    assert all(con.execute(f"select count(*) from raw.{feed.table}").fetchall() == [(0,)] for feed in load_contract().feeds)


def test_a_stray_does_not_stop_the_feeds_later_deliveries(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20261399T250000Z.csv", STRAY_ROW)
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv", STRAY_ROW)

    ingest_everything(con, landing, archive)

    assert [(name, status) for _, name, status, *_ in ledger(con)] == [
        ("sites__20261110T030000Z.csv", "loaded"), ("sites__20261399T250000Z.csv", "rejected"),
    ]  # a stray without an extract time sorts last


def test_symbolic_links_are_refused_and_never_followed(con, landing, archive, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sites__20261110T030000Z.csv").write_text(STRAY_ROW)
    (landing / "cro-acme").mkdir()
    (landing / "cro-acme" / "sites__20261110T030000Z.csv").symlink_to(outside / "sites__20261110T030000Z.csv")
    (landing / "cro-zenith").symlink_to(outside, target_is_directory=True)

    outcomes = ingest_everything(con, landing, archive)

    assert sorted((o.status, o.reason) for o in outcomes) == [
        ("rejected", "symlink_refused: ./cro-zenith is a symbolic link, and links are never followed; deliver the file itself"),
        ("rejected", "symlink_refused: cro-acme/sites__20261110T030000Z.csv is a symbolic link, and links are never "
                     "followed; deliver the file itself"),
    ]
    assert con.execute("select count(*) from raw.cro__sites").fetchall() == [(0,)]
    archived = sorted(p.read_text() for p in archive.rglob("*") if p.is_file() and not p.name.endswith(".receipt.json"))
    assert archived == [f"symbolic link to {outside}\n", f"symbolic link to {outside / 'sites__20261110T030000Z.csv'}\n"]


def test_a_damaged_copy_at_the_archive_path_is_replaced(con, landing, archive):
    path = write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv", STRAY_ROW)
    damaged = archive / "cro-acme" / f"{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}-{path.name}"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(STRAY_ROW.encode()[:20])  # an interrupted attempt

    ingest_everything(con, landing, archive)

    assert damaged.read_bytes() == path.read_bytes()
    assert con.execute("select count(*) from raw.cro__sites").fetchall() == [(1,)]


def test_a_file_deleted_by_its_sender_after_discovery_is_left_out(con, landing, archive):
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv", STRAY_ROW)
    withdrawn = write_delivery(landing, "cro-acme", "sites__20261117T030000Z.csv", STRAY_ROW.replace("0101", "0102"))
    contract = load_contract()
    feed = contract.feed("cro", "sites")

    outcomes = loader.ingest_feed(con, contract, feed, landing, archive, archive.parent / "docs",
                                  on_progress=lambda outcome: withdrawn.unlink())

    assert [(o.delivery.file_name, o.status) for o in outcomes] == [("sites__20261110T030000Z.csv", "loaded")]
    assert [name for _, name, *_ in ledger(con)] == ["sites__20261110T030000Z.csv"]


def test_a_file_still_being_written_is_left_for_the_next_run(con, landing, archive):
    header = ",".join(load_contract().feed("cro", "visits").column_names) + "\n"
    row = "S1,A,A-{n:06d},SCRN,03-Nov-2026,04-Nov-2026,NE,2026-11-04T10:00:00Z\n"
    path = write_delivery(landing, "cro-acme", "visits__20261110T030000Z.csv", header + "".join(row.format(n=n) for n in range(100_000)))
    written = threading.Event()

    def keep_writing():
        with path.open("a") as handle:
            for n in range(100_000, 200_000):
                handle.write(row.format(n=n))
                handle.flush()
                written.set()
                if stop.wait(0.001):
                    return

    stop = threading.Event()
    writer = threading.Thread(target=keep_writing)
    writer.start()
    written.wait()
    try:
        first_run = ingest_everything(con, landing, archive)
    finally:
        stop.set()
        writer.join()

    assert first_run == [] and ledger(con) == []
    (outcome,) = ingest_everything(con, landing, archive)
    rows = len(path.read_text().splitlines()) - 1
    (sha, rows_loaded, archive_path), = con.execute("select sha256, rows_loaded, archive_path from audit.delivery_ledger").fetchall()
    assert (sha, rows_loaded) == (hashlib.sha256(path.read_bytes()).hexdigest(), rows)
    assert Path(archive_path).read_bytes() == path.read_bytes()


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
