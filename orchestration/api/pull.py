"""Pull a CRO's new events from its API into an ordinary delivery file.

    <landing>/cro-<id>/events__<stamp>.jsonl    a delivery, ingested like any file
    <state>/cro-<id>.events.cursor.json         how far the pulls have got

The order of the steps makes a crash harmless:
1. pages stream into `<landing>/cro-<id>/.events__api-pull.jsonl.part`, which ingestion ignores;
2. after the last page, the cursor file notes the delivery it is about to publish;
3. the `.part` file is renamed to the delivery;
4. the cursor advances.
A crash before 3 leaves the old cursor: the next pull fetches the same events again and
overwrites the `.part` file. A crash between 3 and 4 is completed by the next pull, which
finds the noted delivery in place and advances the cursor. Nothing is lost, nothing is
delivered twice.

The cursor is the latest `recorded_at` pulled plus the event_ids pulled at exactly that
instant. The API's `since` is inclusive, so each pull reads that instant again: an event
recorded in the same instant but published after the last pull is caught, and the events
already pulled are dropped by id.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Iterator

from orchestration.api.client import ApiError, CroEventsClient, parse_instant
from orchestration.contract import Feed, delivery_file_name, load_contract, source_side

log = logging.getLogger(__name__)

PART_NAME = ".events__api-pull.jsonl.part"


@dataclass(frozen=True)
class PullResult:
    file: Path | None  # the delivery written, or None when there was nothing new
    events: int
    pages: int
    cursor_before: str | None  # latest recorded_at pulled before and after, as UTC ISO 8601
    cursor_after: str | None


@dataclass(frozen=True)
class Cursor:
    recorded_at: datetime | None = None  # the latest recorded_at pulled (UTC)
    event_ids: frozenset[str] = frozenset()  # the events pulled at exactly that instant

    @property
    def since(self) -> str | None:
        return self.recorded_at.isoformat() if self.recorded_at else None

    def already_pulled(self, event: object) -> bool:
        version = event_version(event)
        return version is not None and version[0] == self.recorded_at and version[1] in self.event_ids

    def advanced(self, events: list) -> "Cursor":
        latest, ids = self.recorded_at, set(self.event_ids)
        for recorded_at, event_id in filter(None, map(event_version, events)):
            if latest is None or recorded_at > latest:
                latest, ids = recorded_at, {event_id}
            elif recorded_at == latest:
                ids.add(event_id)
        return Cursor(latest, frozenset(ids))

    def to_json(self) -> dict:
        return {"recorded_at": self.since, "event_ids": sorted(self.event_ids)}

    @classmethod
    def from_json(cls, data: dict) -> "Cursor":
        recorded_at = data["recorded_at"]
        instant = parse_instant(recorded_at)
        if recorded_at is not None and instant is None:
            raise ValueError(f"recorded_at {recorded_at!r} is not ISO 8601 with an offset")
        return cls(instant, frozenset(data["event_ids"]))


@dataclass(frozen=True)
class _State:
    cursor: Cursor
    publishing: tuple[str, Cursor] | None = None  # (delivery file name, the cursor once it is in place)


def event_version(event: object) -> tuple[datetime, str] | None:
    """(recorded_at as a UTC instant, event_id); None for an event the gates will
    quarantine, which cannot move the cursor."""
    if not isinstance(event, dict) or not isinstance(event.get("event_id"), str):
        return None
    recorded_at = parse_instant(event.get("recorded_at"))
    return (recorded_at, event["event_id"]) if recorded_at else None


def cursor_path(state_dir: Path, cro_id: str) -> Path:
    return Path(state_dir) / f"cro-{cro_id}.events.cursor.json"


def pull_events(
    client: CroEventsClient, landing_dir: Path, cro_id: str, state_dir: Path, now: datetime | None = None
) -> PullResult:
    """Fetch every event recorded since the cursor into one new delivery of the CRO's
    `events` feed (none when nothing is new), then advance the cursor. `now` is the
    delivery's extract time (default: the current time)."""
    folder = Path(landing_dir) / f"cro-{cro_id}"
    source_side(folder.name)  # rejects a cro_id the landing layout does not allow
    state_path = cursor_path(state_dir, cro_id)
    folder.mkdir(parents=True, exist_ok=True)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    with _one_pull_at_a_time(state_path):
        extract_at = now or datetime.now(timezone.utc)
        before = _resume(state_path, folder)
        part = folder / PART_NAME
        events, pages, after = _download(client, before, part)
        if not events:
            part.unlink()
            log.info("no new events from %s since %s", client.events_url, before.since or "the beginning")
            return PullResult(None, 0, pages, before.since, before.since)
        delivery = _free_delivery_path(folder, load_contract().feed("cro", "events"), extract_at)
        _publish(part, delivery, state_path, before, after)
    log.info(
        "pulled %d events in %d pages from %s into %s; cursor %s -> %s",
        events, pages, client.events_url, delivery, before.since, after.since,
    )
    return PullResult(delivery, events, pages, before.since, after.since)


@contextmanager
def _one_pull_at_a_time(state_path: Path) -> Iterator[None]:
    """Two pulls of one CRO at once would deliver the same events twice: the second waits."""
    with state_path.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _download(client: CroEventsClient, cursor: Cursor, part: Path) -> tuple[int, int, Cursor]:
    if part.exists():
        log.info("replacing %s, left by an interrupted pull", part)
    written, pages, after = 0, 0, cursor
    with part.open("w", encoding="utf-8", newline="\n") as out:
        for page in client.iter_pages(since=cursor.since):
            new = [event for event in page if not cursor.already_pulled(event)]
            # ASCII escapes: an odd string (a lone surrogate) cannot stop the pull; the gates judge it.
            out.writelines(json.dumps(event) + "\n" for event in new)
            written, pages, after = written + len(new), pages + 1, after.advanced(new)
        _flush_to_disk(out)
    return written, pages, after


def _publish(part: Path, delivery: Path, state_path: Path, before: Cursor, after: Cursor) -> None:
    _write_state(state_path, _State(before, publishing=(delivery.name, after)))
    os.replace(part, delivery)
    _fsync_dir(delivery.parent)
    _write_state(state_path, _State(after))


def _free_delivery_path(folder: Path, feed: Feed, extract_at: datetime) -> Path:
    """The contract's name for a delivery extracted at `extract_at`, a second later while
    that name is taken (two pulls in one second, or a file the CRO sent)."""
    path = folder / delivery_file_name(feed, extract_at)
    while path.exists():
        extract_at += timedelta(seconds=1)
        path = folder / delivery_file_name(feed, extract_at)
    return path


def _resume(state_path: Path, folder: Path) -> Cursor:
    """The cursor to pull from, completing the bookkeeping of a pull that crashed while
    publishing its delivery."""
    state = _read_state(state_path)
    if state.publishing is None:
        return state.cursor
    file_name, cursor_once_published = state.publishing
    if (folder / file_name).exists():
        log.warning("the last pull crashed after delivering %s: advancing the cursor past it", file_name)
        cursor = cursor_once_published
    else:
        log.warning("the last pull crashed before delivering %s: pulling its events again", file_name)
        cursor = state.cursor
    _write_state(state_path, _State(cursor))
    return cursor


def _read_state(path: Path) -> _State:
    if not path.exists():
        return _State(Cursor())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        publishing = data.get("publishing")
        return _State(
            Cursor.from_json(data["cursor"]),
            (publishing["file"], Cursor.from_json(publishing["cursor"])) if publishing else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"the pull cursor {path} is unreadable ({type(error).__name__}: {error}); restore it from a backup, "
            "or delete it to pull every event again (events pulled twice are de-duplicated by event_id)"
        ) from None


def _write_state(path: Path, state: _State) -> None:
    data = {
        "cursor": state.cursor.to_json(),
        "publishing": {"file": state.publishing[0], "cursor": state.publishing[1].to_json()} if state.publishing else None,
    }
    temporary = path.with_name(f"{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
        _flush_to_disk(out)
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _flush_to_disk(handle: IO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    """Makes a rename in `folder` survive a power cut, not only a process crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.api.pull",
        description=(
            "Pull a CRO's new events from its API (docs/cro-events-api.md) into one delivery file "
            "in <landing-dir>/cro-<id>/, resuming from the cursor in <state-dir>. The bearer token "
            "is read from CG_CRO_<ID>_API_TOKEN."
        ),
    )
    parser.add_argument("--cro-id", required=True, help="the CRO's id, as in its landing folder cro-<id>")
    parser.add_argument("--base-url", required=True, help="the API's base URL; events are at <base-url>/events")
    parser.add_argument("--landing-dir", type=Path, required=True, help="the landing root (CG_LANDING_DIR)")
    parser.add_argument("--state-dir", type=Path, required=True, help="where the pull cursor is kept")
    parser.add_argument("--page-size", type=int, default=500, help="events per page (default: 500)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with CroEventsClient.for_cro(args.cro_id, args.base_url, page_size=args.page_size) as client:
            result = pull_events(client, args.landing_dir, args.cro_id, args.state_dir)
    except (ApiError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{result.events} new events in {result.pages} pages -> {result.file or 'no delivery'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
