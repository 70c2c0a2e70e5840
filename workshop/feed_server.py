"""A reference CRO events API (wire format: docs/cro-events-api.md), for demos and tests.

It serves the events of the `*.jsonl` files in one folder (for example the `events__*.jsonl`
deliveries the synthetic generator writes for one CRO), reread whenever a file changes, and
binds to 127.0.0.1 only. Faults queued on `FeedServer.faults` (429, 5xx, slow or cut-off
answers, a source that dies mid-pagination) exercise a client's retries and errors.

    CG_FEED_SERVER_TOKEN=... python -m workshop.feed_server --events-dir DIR --port 8765

Requests are logged without their headers, so the token never reaches the log.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import hmac
import json
import logging
import os
import signal
import sys
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from orchestration.api.client import parse_instant
from orchestration.ingest.deliveries import is_ignored

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
TOKEN_ENV_VAR = "CG_FEED_SERVER_TOKEN"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


# Fault injection ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    status: int | None = None  # answer this status instead of the page
    retry_after: int | str | None = None  # the Retry-After header sent with `status`
    delay: float = 0.0  # seconds to wait before answering
    malformed: bool = False  # send the page cut off halfway
    body: bytes | None = None  # send these bytes (status 200) instead of the page


class Faults:
    """Faults for the next requests to /events, one per request, in the order queued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: deque[Fault] = deque()
        self._fail_after: tuple[int, int] | None = None  # (pages, status)
        self._pages_served = 0

    def queue(
        self,
        *,
        status: int | None = None,
        retry_after: int | str | None = None,
        delay: float = 0.0,
        malformed: bool = False,
        body: bytes | None = None,
        times: int = 1,
    ) -> None:
        with self._lock:
            self._queued.extend([Fault(status, retry_after, delay, malformed, body)] * times)

    def fail_after(self, pages: int, status: int = 500) -> None:
        """Once `pages` pages have been served, answer every request with `status`: a
        source that dies mid-pagination and stays down."""
        with self._lock:
            self._fail_after = (self._pages_served + pages, status)

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self._fail_after = None

    @property
    def pending(self) -> int:
        """Queued faults not yet applied to a request."""
        with self._lock:
            return len(self._queued)

    def next_fault(self) -> Fault | None:
        with self._lock:
            if self._fail_after and self._pages_served >= self._fail_after[0]:
                return Fault(status=self._fail_after[1])
            return self._queued.popleft() if self._queued else None

    def count_page(self) -> None:
        with self._lock:
            self._pages_served += 1


# Events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    recorded_at: datetime  # UTC
    event_id: str
    body: dict  # exactly as in the file


def position(event: StoredEvent) -> tuple[datetime, str]:
    """Where an event sits in the API's order."""
    return event.recorded_at, event.event_id


class EventFolder:
    """The events of the `*.jsonl` files in a folder, one per (event_id, recorded_at),
    ordered by (recorded_at, event_id); reread when a file changes."""

    def __init__(self, folder: Path):
        if not folder.is_dir():
            raise FileNotFoundError(f"no events folder {folder}: point --events-dir at a folder of *.jsonl files")
        self.folder = folder
        self._lock = threading.Lock()
        self._signature: list[tuple[str, int, int]] | None = None
        self._events: list[StoredEvent] = []

    def events(self) -> list[StoredEvent]:
        files = sorted(p for p in self.folder.glob("*.jsonl") if p.is_file() and not is_ignored(p.name))
        signature = [(p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files]
        with self._lock:
            if signature != self._signature:
                self._events, self._signature = _read_events(files), signature
            return self._events


def _read_events(files: list[Path]) -> list[StoredEvent]:
    versions: dict[tuple[datetime, str], StoredEvent] = {}
    for path in files:
        for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
            if not line.strip():
                continue
            event = _stored_event(line)
            if event is None:
                log.warning("%s line %d is not an event with event_id and recorded_at (with offset): not served", path, number)
                continue
            versions[position(event)] = event
    return sorted(versions.values(), key=position)


def _stored_event(line: bytes) -> StoredEvent | None:
    try:
        body = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("event_id"), str):
        return None
    recorded_at = parse_instant(body.get("recorded_at"))
    return StoredEvent(recorded_at, body["event_id"], body) if recorded_at else None


# Pages ----------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


def events_page(events: list[StoredEvent], query: dict[str, list[str]]) -> dict:
    """The page a query asks for: `{"events": [...], "next": token | null}`."""
    since = _since(query)
    size = _page_size(query)
    token = _param(query, "page_token")
    if token is not None:
        start = bisect.bisect_right(events, _after(token, since), key=position)
    elif since is not None:
        start = bisect.bisect_left(events, (since,), key=position)  # (since,) sorts before every (since, id)
    else:
        start = 0
    page = events[start : start + size]
    more = start + size < len(events)
    return {"events": [e.body for e in page], "next": _page_token(since, position(page[-1])) if more else None}


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _since(query: dict[str, list[str]]) -> datetime | None:
    value = _param(query, "since")
    if value is None:
        return None
    since = parse_instant(value)
    if since is None:
        raise BadRequest(
            f"since={value!r} is not ISO 8601 with a UTC offset, e.g. 2026-01-09T08:00:00Z "
            "(URL-encode '+' in an offset as %2B)"
        )
    return since


def _page_size(query: dict[str, list[str]]) -> int:
    value = _param(query, "page_size")
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not (value.isdecimal() and len(value) <= 4 and 1 <= int(value) <= MAX_PAGE_SIZE):
        raise BadRequest(f"page_size={value!r} must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def _page_token(since: datetime | None, after: tuple[datetime, str]) -> str:
    """Opaque to clients: the position of the last event served, and the `since` it belongs to."""
    data = {"since": since.isoformat() if since else None, "after": [after[0].isoformat(), after[1]]}
    return base64.urlsafe_b64encode(json.dumps(data).encode("utf-8")).decode("ascii")


def _after(token: str, since: datetime | None) -> tuple[datetime, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        token_since = parse_instant(data["since"]) if data["since"] else None
        after = (parse_instant(data["after"][0]), str(data["after"][1]))
    except (binascii.Error, UnicodeError, ValueError, KeyError, TypeError, IndexError):
        raise BadRequest("page_token is not one this server issued; start again without page_token") from None
    if after[0] is None:
        raise BadRequest("page_token is not one this server issued; start again without page_token")
    if token_since != since:
        raise BadRequest(
            "page_token belongs to another `since`: send the same since with every page, "
            "or start again without page_token"
        )
    return after


# HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedRequest:
    path: str
    params: dict[str, str]
    status: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, events: EventFolder, token: str, faults: Faults):
        super().__init__((HOST, port), _Handler)
        self.events = events
        self.expected_authorization = f"Bearer {token}".encode("utf-8")
        self.faults = faults
        self.stopping = threading.Event()
        self.served: list[ServedRequest] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall between them
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            return self._send_json(200, {"status": "ok"})
        if url.path != "/events":
            return self._send_error(404, f"no endpoint {url.path}; the events are at /events")
        if not self._authorized():
            return self._send_error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
        fault = self.server.faults.next_fault() or Fault()
        if fault.delay:
            self.server.stopping.wait(fault.delay)
        if fault.status:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._send_error(fault.status, "injected fault", headers)
        try:
            page = events_page(self.server.events.events(), parse_qs(url.query, keep_blank_values=True))
        except BadRequest as error:
            return self._send_error(400, str(error))
        body = json.dumps(page).encode("ascii")
        if fault.malformed:
            body = body[: len(body) // 2]
        self._send(200, body if fault.body is None else fault.body)
        self.server.faults.count_page()

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "").encode("utf-8")
        return hmac.compare_digest(given, self.server.expected_authorization)

    def _send_json(self, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), headers)

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": message}, headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (its read timeout)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        url = urlsplit(self.path)
        params = {name: values[0] for name, values in parse_qs(url.query).items()}
        self.server.served.append(ServedRequest(url.path, params, int(code)))
        log.info('"%s" %s', self.requestline, code)  # the request line carries no headers

    def log_message(self, format: str, *args) -> None:
        log.warning(format, *args)


class FeedServer:
    """`with FeedServer(folder, token) as server:` serves the folder's events at
    `server.url` until the block ends. `port=0` picks a free port."""

    def __init__(self, events_dir: Path, token: str, port: int = 0):
        if not token:
            raise ValueError(f"the feed server needs the bearer token its clients must send: set {TOKEN_ENV_VAR}")
        self.faults = Faults()
        self._httpd = _Server(port, EventFolder(Path(events_dir)), token, self.faults)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="cro-feed-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[ServedRequest]:
        """Every request answered so far, in order."""
        return list(self._httpd.served)

    @property
    def event_count(self) -> int:
        return len(self._httpd.events.events())

    def __repr__(self) -> str:
        return f"FeedServer({self.url!r})"

    def __enter__(self) -> "FeedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._httpd.stopping.set()  # ends injected delays at once
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workshop.feed_server",
        description=(
            "Serve the CRO events in a folder of *.jsonl files through the CRO events API "
            f"(docs/cro-events-api.md) on 127.0.0.1. Clients must send the bearer token set in {TOKEN_ENV_VAR}."
        ),
    )
    parser.add_argument("--events-dir", type=Path, required=True, help="folder of *.jsonl event files, e.g. one CRO's deliveries")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default: 8765; 0 picks a free one)")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV_VAR, "").strip()
    if not token:
        parser.error(f"set the environment variable {TOKEN_ENV_VAR} to the bearer token clients must send")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        server = FeedServer(args.events_dir, token, args.port)
    except (FileNotFoundError, OSError) as error:
        parser.error(str(error))
    # a shell starts background jobs with SIGINT ignored; Ctrl-C and kill must stop it anyway
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with server:
        print(f"Serving {server.event_count} events from {args.events_dir} at {server.url}/events (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
