"""API ingestion against the real reference server on 127.0.0.1: a real client, real
files, real faults. Sleeps between retries are recorded instead of slept."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from orchestration.api import pull as pull_module
from orchestration.api.client import (
    ApiAuthError,
    ApiProtocolError,
    ApiUnavailableError,
    CroEventsClient,
    retry_after_seconds,
    token_from_env,
)
from workshop.feed_server import FeedServer
from orchestration.api.pull import PART_NAME, cursor_path, pull_events
from orchestration.contract import DELIVERY_NAME, load_contract
from orchestration.ingest.deliveries import discover
from orchestration.ingest.loader import ingest_feed

from conftest import PROJECT_ROOT

TOKEN = "cg-test-token-7f3a9c41"
TOKEN_ENV_VAR = "CG_CRO_ACME_API_TOKEN"
PULLED_AT = datetime(2026, 2, 1, 3, 0, tzinfo=timezone.utc)
FIRST_RECORDED = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
PARIS = timezone(timedelta(hours=1))
EVENTS_FEED = load_contract().feed("cro", "events")


# Fixtures and helpers -------------------------------------------------------------------


def make_event(number: int, recorded_at: datetime) -> dict:
    """A contract-shaped event; odd numbers carry a +01:00 offset, so order must be by instant."""
    stamp = recorded_at.astimezone(PARIS if number % 2 else timezone.utc)
    return {
        "event_id": f"ACM-EV-{number:06d}",
        "type": "SUBJ_SCREENED",
        "study": "ACM-7731",
        "country": "France",
        "site": "FR-PAR-02",
        "subject": f"FR-PAR-02-{number:03d}",
        "at": (stamp - timedelta(hours=6)).isoformat(),
        "recorded_at": stamp.isoformat(),
        "supersedes": None,
    }


def make_events(first: int, count: int, start: datetime = FIRST_RECORDED) -> list[dict]:
    return [make_event(first + i, start + timedelta(minutes=i)) for i in range(count)]


def serve(source: Path, events: list[dict], name: str) -> None:
    """A file for the server to serve, lines reversed so that the server must sort them."""
    source.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(event) for event in reversed(events)]
    (source / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def deliveries(landing: Path) -> list[Path]:
    return sorted((landing / "cro-acme").glob("events__*.jsonl"))


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def ids(events: list[dict]) -> list[str]:
    return [event["event_id"] for event in events]


def stored_cursor(state: Path) -> dict | None:
    path = cursor_path(state, "acme")
    return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return tmp_path / "cro-source"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def server(source: Path):
    source.mkdir(parents=True, exist_ok=True)
    with FeedServer(source, TOKEN) as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: FeedServer, sleeps: list[float]):
    with make_client(server, sleeps) as made:
        yield made


def make_client(server: FeedServer, sleeps: list[float], **options) -> CroEventsClient:
    settings = dict(
        token_env_var=TOKEN_ENV_VAR, page_size=10, timeout=(5.0, 5.0), max_retries=3, backoff_base=0.01, sleep=sleeps.append
    )
    return CroEventsClient(server.url, options.pop("token", TOKEN), **(settings | options))


def pull(client: CroEventsClient, landing: Path, state: Path, now: datetime = PULLED_AT):
    return pull_events(client, landing, "acme", state, now=now)


def statuses(server: FeedServer) -> list[int]:
    return [request.status for request in server.requests if request.path == "/events"]


# Pagination and cursor -------------------------------------------------------------------


def test_pages_land_as_one_contract_delivery_in_order(server, client, source, landing, state):
    events = make_events(1, 25)
    serve(source, events, "events__20260105T030000Z.jsonl")

    result = pull(client, landing, state)

    assert (result.events, result.pages) == (25, 3)
    assert deliveries(landing) == [landing / "cro-acme" / "events__20260201T030000Z.jsonl"] == [result.file]
    assert DELIVERY_NAME.match(result.file.name)
    assert read_lines(result.file) == events  # exactly as served, in (recorded_at, event_id) order
    for line in read_lines(result.file):
        assert set(EVENTS_FEED.header_columns) <= line.keys() <= set(EVENTS_FEED.column_names)
    assert [r.params.get("page_token") is not None for r in server.requests] == [False, True, True]
    assert not (landing / "cro-acme" / PART_NAME).exists()
    assert stored_cursor(state)["cursor"] == {"recorded_at": "2026-01-05T08:24:00+00:00", "event_ids": ["ACM-EV-000025"]}
    assert (result.cursor_before, result.cursor_after) == (None, "2026-01-05T08:24:00+00:00")


def test_pulled_delivery_goes_through_the_same_gates_and_duplicate_check_as_files(server, client, source, landing, archive, state, con):
    events = make_events(1, 25)
    events[0]["country"] = "Côte d'Ivoire"
    serve(source, events, "events__20260105T030000Z.jsonl")
    first = pull(client, landing, state)
    cursor_path(state, "acme").unlink()  # an operator resets the cursor: the same events come again
    again = pull(client, landing, state, now=PULLED_AT + timedelta(hours=1))

    outcomes = ingest_feed(con, load_contract(), EVENTS_FEED, landing, archive, archive.parent / "quality_docs", run_id="test")

    assert [(o.delivery.file_name, o.status, o.rows_loaded, o.rows_quarantined) for o in outcomes] == [
        (first.file.name, "loaded", 25, 0),
        (again.file.name, "duplicate", 0, 0),
    ]
    assert con.execute("select count(distinct event_id), min(_cro_id) from raw.cro__events").fetchone() == (25, "acme")
    assert con.execute("select country from raw.cro__events where event_id = 'ACM-EV-000001'").fetchone() == ("Côte d'Ivoire",)


def test_next_pull_fetches_only_new_events_and_writes_nothing_when_none(server, client, source, landing, state):
    serve(source, make_events(1, 25), "events__20260105T030000Z.jsonl")
    first = pull(client, landing, state)
    serve(source, make_events(26, 5, start=FIRST_RECORDED + timedelta(days=1)), "events__20260106T030000Z.jsonl")

    second = pull(client, landing, state, now=PULLED_AT + timedelta(hours=1))
    third = pull(client, landing, state, now=PULLED_AT + timedelta(hours=2))

    assert ids(read_lines(second.file)) == [f"ACM-EV-{n:06d}" for n in range(26, 31)]
    assert server.requests[3].params["since"] == first.cursor_after  # resumed from the cursor
    assert (third.file, third.events, third.cursor_after) == (None, 0, second.cursor_after)
    assert deliveries(landing) == [first.file, second.file]
    assert not (landing / "cro-acme" / PART_NAME).exists()


def test_events_recorded_at_the_cursor_instant_are_neither_missed_nor_doubled(server, client, source, landing, state):
    instant = FIRST_RECORDED
    serve(source, [make_event(1, instant), make_event(2, instant)], "events__20260105T030000Z.jsonl")
    first = pull(client, landing, state)
    # Recorded in that same instant but published after the first pull, then a later one.
    serve(source, [make_event(3, instant), make_event(4, instant + timedelta(seconds=1))], "events__20260106T030000Z.jsonl")

    second = pull(client, landing, state, now=PULLED_AT + timedelta(hours=1))

    assert ids(read_lines(first.file)) == ["ACM-EV-000001", "ACM-EV-000002"]
    assert ids(read_lines(second.file)) == ["ACM-EV-000003", "ACM-EV-000004"]


# Crashes ----------------------------------------------------------------------------------


def test_source_dying_mid_pagination_leaves_only_a_part_file_then_resumes(server, client, source, landing, state):
    serve(source, make_events(1, 5), "events__20260105T030000Z.jsonl")
    first = pull(client, landing, state)
    cursor_before_crash = stored_cursor(state)
    serve(source, make_events(6, 25, start=FIRST_RECORDED + timedelta(days=1)), "events__20260106T030000Z.jsonl")
    server.faults.fail_after(pages=2)

    with pytest.raises(ApiUnavailableError):
        pull(client, landing, state, now=PULLED_AT + timedelta(hours=1))

    assert deliveries(landing) == [first.file]
    # Two pages: 9 new events and the one at the cursor instant (dropped), then 10.
    assert len((landing / "cro-acme" / PART_NAME).read_text().splitlines()) == 19
    assert [d.file_name for d in discover(landing, EVENTS_FEED)] == [first.file.name]  # ingestion ignores the .part
    assert stored_cursor(state) == cursor_before_crash

    server.faults.clear()
    resumed = pull(client, landing, state, now=PULLED_AT + timedelta(hours=2))

    assert ids(read_lines(resumed.file)) == [f"ACM-EV-{n:06d}" for n in range(6, 31)]
    assert not (landing / "cro-acme" / PART_NAME).exists()


def test_killed_pull_process_loses_nothing_and_doubles_nothing(server, client, source, landing, state):
    serve(source, make_events(1, 25), "events__20260105T030000Z.jsonl")
    server.faults.queue(times=2)  # pages 1 and 2 as usual...
    server.faults.queue(delay=30)  # ...page 3 hangs until the process is killed
    command = [
        sys.executable, "-m", "orchestration.api.pull", "--cro-id", "acme", "--base-url", server.url,
        "--landing-dir", str(landing), "--state-dir", str(state), "--page-size", "10",
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env={**os.environ, TOKEN_ENV_VAR: TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while server.faults.pending and time.monotonic() < deadline:  # until page 3 is requested
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert server.faults.pending == 0 and len(server.requests) == 2

    assert deliveries(landing) == []
    assert stored_cursor(state) is None

    result = pull(client, landing, state)

    assert ids(read_lines(result.file)) == [f"ACM-EV-{n:06d}" for n in range(1, 26)]
    assert deliveries(landing) == [result.file]


def test_crash_between_delivery_and_cursor_update_is_completed_by_the_next_pull(server, client, source, landing, state, monkeypatch):
    serve(source, make_events(1, 25), "events__20260105T030000Z.jsonl")
    real_write_state = pull_module._write_state

    def crash_once_delivered(path, new_state):
        if new_state.publishing is None:
            raise SystemExit("killed after the rename, before the cursor moved")
        real_write_state(path, new_state)

    monkeypatch.setattr(pull_module, "_write_state", crash_once_delivered)
    with pytest.raises(SystemExit):
        pull(client, landing, state)
    monkeypatch.undo()
    [delivered] = deliveries(landing)
    serve(source, make_events(26, 3, start=FIRST_RECORDED + timedelta(days=1)), "events__20260106T030000Z.jsonl")

    after_crash = pull(client, landing, state, now=PULLED_AT + timedelta(hours=1))

    assert len(read_lines(delivered)) == 25
    assert ids(read_lines(after_crash.file)) == ["ACM-EV-000026", "ACM-EV-000027", "ACM-EV-000028"]
    assert after_crash.cursor_before == "2026-01-05T08:24:00+00:00"


# Retries -----------------------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(server, client, sleeps, source, landing, state):
    serve(source, make_events(1, 25), "events__20260105T030000Z.jsonl")
    server.faults.queue(status=429, retry_after=1)

    result = pull(client, landing, state)

    assert sleeps == [1.0]
    assert statuses(server) == [429, 200, 200, 200]
    assert result.events == 25


def test_retry_after_may_be_an_http_date():
    in_five_seconds = datetime.now(timezone.utc) + timedelta(seconds=5)

    assert 3.5 < retry_after_seconds(format_datetime(in_five_seconds, usegmt=True)) <= 5
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now
    assert retry_after_seconds("soon") is None  # unreadable: the client's own backoff applies


def test_retry_after_longer_than_backoff_max_gives_up_at_once(server, sleeps, source, landing, state):
    serve(source, make_events(1, 3), "events__20260105T030000Z.jsonl")
    server.faults.queue(status=503, retry_after=3600)

    with make_client(server, sleeps, backoff_max=30) as client, pytest.raises(ApiUnavailableError, match="retry after 3600 s"):
        pull(client, landing, state)

    assert sleeps == []


def test_server_errors_back_off_exponentially_then_succeed(server, client, sleeps, source, landing, state):
    serve(source, make_events(1, 25), "events__20260105T030000Z.jsonl")
    server.faults.queue()  # page 1 as usual
    server.faults.queue(status=500)
    server.faults.queue(status=502)

    result = pull(client, landing, state)

    assert sleeps == [0.01, 0.02]
    assert statuses(server) == [200, 500, 502, 200, 200]
    assert ids(read_lines(result.file)) == [f"ACM-EV-{n:06d}" for n in range(1, 26)]


def test_slow_answer_times_out_and_is_retried(server, sleeps, source, landing, state):
    serve(source, make_events(1, 5), "events__20260105T030000Z.jsonl")
    server.faults.queue(delay=1.0)  # longer than the client's read timeout

    with make_client(server, sleeps, timeout=(5.0, 0.3)) as client:
        result = pull(client, landing, state)

    assert sleeps == [0.01]
    assert result.events == 5


def test_persistent_timeouts_end_in_a_clear_failure(server, sleeps, source, landing, state):
    serve(source, make_events(1, 5), "events__20260105T030000Z.jsonl")
    server.faults.queue(delay=1.0, times=3)

    with make_client(server, sleeps, timeout=(5.0, 0.3), max_retries=2) as client, pytest.raises(ApiUnavailableError) as failure:
        pull(client, landing, state)

    assert "failed 3 times on page 1 (last: no answer within 0.3 s)" in str(failure.value)
    assert "run the pull again later" in str(failure.value)
    assert sleeps == [0.01, 0.02]
    assert deliveries(landing) == [] and stored_cursor(state) is None


# Failures that must not be retried ---------------------------------------------------------


def test_rejected_token_fails_at_once_naming_the_variable(server, sleeps, source, landing, state):
    serve(source, make_events(1, 5), "events__20260105T030000Z.jsonl")

    with make_client(server, sleeps, token="expired-token-0000") as client, pytest.raises(ApiAuthError) as failure:
        pull(client, landing, state)

    message = str(failure.value)
    assert "rejected the bearer token (HTTP 401)" in message and TOKEN_ENV_VAR in message
    assert "expired-token-0000" not in message and TOKEN not in message
    assert statuses(server) == [401] and sleeps == []
    assert deliveries(landing) == [] and stored_cursor(state) is None


def test_forbidden_is_an_auth_failure_too(server, client, source, landing, state):
    serve(source, make_events(1, 5), "events__20260105T030000Z.jsonl")
    server.faults.queue(status=403)

    with pytest.raises(ApiAuthError, match="HTTP 403.*CG_CRO_ACME_API_TOKEN"):
        pull(client, landing, state)


def test_missing_token_variable_says_which_to_set(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    with pytest.raises(ApiAuthError, match=f"set the environment variable {TOKEN_ENV_VAR}"):
        token_from_env("acme")

    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    assert token_from_env("acme") == TOKEN


def test_malformed_page_fails_without_delivering_or_moving_the_cursor(server, client, source, landing, state):
    serve(source, make_events(1, 5), "events__20260105T030000Z.jsonl")
    first = pull(client, landing, state)
    cursor_before = stored_cursor(state)
    serve(source, make_events(6, 25, start=FIRST_RECORDED + timedelta(days=1)), "events__20260106T030000Z.jsonl")
    server.faults.queue()  # page 1 as usual
    server.faults.queue(malformed=True)  # page 2 cut off halfway

    with pytest.raises(ApiProtocolError) as failure:
        pull(client, landing, state, now=PULLED_AT + timedelta(hours=1))

    message = str(failure.value)
    assert f"page 2 from {server.url}/events is not valid JSON" in message
    assert "byte offset" in message and "since=" not in message  # the URL without its query
    assert deliveries(landing) == [first.file]
    assert stored_cursor(state) == cursor_before


def test_page_without_an_events_list_is_a_protocol_error(server, client, source, landing, state):
    serve(source, make_events(1, 5), "events__20260105T030000Z.jsonl")
    server.faults.queue(body=b'{"items": [], "next": null}')

    with pytest.raises(ApiProtocolError, match="not an object with an `events` list"):
        pull(client, landing, state)

    assert deliveries(landing) == []


def test_the_token_never_reaches_logs_errors_files_or_results(server, sleeps, source, landing, state, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3, the client, the pull and the server
    serve(source, make_events(1, 25), "events__20260105T030000Z.jsonl")
    server.faults.queue(status=429, retry_after=1)
    server.faults.queue(status=500)
    server.faults.queue(delay=1.0)
    texts = []
    with make_client(server, sleeps, timeout=(5.0, 0.3)) as client:
        result = pull(client, landing, state)
        texts += [repr(client), repr(result), repr(server)]
    for wrong_token in ("expired-token-0000", ""):
        with pytest.raises((ApiAuthError, ApiProtocolError)) as failure:
            with make_client(server, sleeps, token=wrong_token) as client:
                pull(client, landing, state)
        texts += [str(failure.value), repr(failure.value)]

    texts += [record.getMessage() for record in caplog.records]
    texts += [path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file() and path.suffix != ".duckdb"]
    assert len(caplog.records) > 10
    assert not [text for text in texts if TOKEN in text or "expired-token-0000" in text]


# The reference server ----------------------------------------------------------------------


def test_server_rejects_a_page_token_for_another_since_and_bad_parameters(server, source):
    serve(source, make_events(1, 25), "events__20260105T030000Z.jsonl")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    events_url = f"{server.url}/events"
    since = "2026-01-05T09:00:00+01:00"  # 08:00Z: every event
    first = requests.get(events_url, params={"since": since, "page_size": 10}, headers=auth, timeout=5).json()

    def status(**params) -> int:
        return requests.get(events_url, params=params, headers=auth, timeout=5).status_code

    assert len(first["events"]) == 10 and first["next"]
    assert status(since=since, page_size=10, page_token=first["next"]) == 200
    assert status(since="2026-01-05T08:00:00Z", page_size=10, page_token=first["next"]) == 200  # the same instant
    assert status(since="2026-01-05T08:10:00Z", page_size=10, page_token=first["next"]) == 400
    assert status(page_size=10, page_token=first["next"]) == 400
    assert status(page_token="not-a-token") == 400
    assert status(since="2026-01-05T08:00:00") == 400  # no offset: ambiguous
    assert status(page_size=0) == 400 and status(page_size=1001) == 400


def test_feed_server_command_line_serves_until_interrupted(source):
    serve(source, make_events(1, 3), "events__20260105T030000Z.jsonl")
    command = [sys.executable, "-m", "workshop.feed_server", "--events-dir", str(source), "--port", "0"]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env={**os.environ, "CG_FEED_SERVER_TOKEN": TOKEN},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = process.stdout.readline()
        url = banner.split(" at ")[1].split()[0]
        answer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=5)

    assert banner.startswith("Serving 3 events from")
    assert ids(answer["events"]) == ["ACM-EV-000001", "ACM-EV-000002", "ACM-EV-000003"]
    assert process.returncode == 0
    assert "GET /events" in errors and TOKEN not in errors


def test_client_refuses_to_send_a_token_over_plain_http_to_another_host():
    with pytest.raises(ValueError, match="use an https:// base URL"):
        CroEventsClient("http://api.example-cro.com", TOKEN)
