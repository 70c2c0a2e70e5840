"""Finding deliveries in the landing root: `<root>/<source>/<feed>__<stamp>.<ext>`.

Every other file under the landing root is a stray (`strays`): a misnamed file, an unknown
feed or source folder, a stamp that is not a real time or lies in the future, a symbolic
link (never followed: its target is outside what a sender delivers). Strays are recorded
as rejected with the rule they break, so nothing a sender drops goes unseen."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

from orchestration.contract import (
    DELIVERY_NAME,
    DELIVERY_PATTERN,
    IGNORED_PREFIXES,
    IGNORED_SUFFIXES,
    Contract,
    Feed,
    source_side,
)
from orchestration.gates.suites import governance


@dataclass(frozen=True)
class Delivery:
    source: str  # landing folder: "sponsor" or "cro-<cro_id>"
    feed: str
    path: Path  # where the sender dropped it
    extract_at: datetime
    archived: Path | None = None  # the archive copy, once taken: what is read from then on

    @property
    def side(self) -> str:
        return source_side(self.source)[0]

    @property
    def cro_id(self) -> str | None:
        return source_side(self.source)[1]

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def content_path(self) -> Path:
        return self.archived or self.path

    @cached_property
    def sha256(self) -> str:
        return file_sha256(self.content_path)

    @cached_property
    def size_bytes(self) -> int:
        return self.content_path.stat().st_size

    def archived_as(self, copy: Path, sha256: str) -> Delivery:
        """This delivery read from its archive copy, whose bytes hash to `sha256`."""
        archived = dataclasses.replace(self, archived=copy)
        archived.__dict__.update(sha256=sha256, size_bytes=copy.stat().st_size)  # just hashed: no second read
        return archived


@dataclass(frozen=True, kw_only=True)
class Stray(Delivery):
    """A file under the landing root that no feed picks up, with the rule it breaks."""

    feed: str | None = None
    extract_at: datetime | None = None
    reason: str = ""

    @property
    def side(self) -> str | None:
        return _side_of(self.source)

    @property
    def cro_id(self) -> str | None:
        return source_side(self.source)[1] if _side_of(self.source) else None

    @property
    def is_link(self) -> bool:
        return self.path.is_symlink()

    def link_text(self) -> bytes:
        """What a symbolic link holds: where it points (its target is never read)."""
        return f"symbolic link to {os.readlink(self.path)}\n".encode()

    @cached_property
    def sha256(self) -> str:
        if self.is_link and self.archived is None:
            return hashlib.sha256(self.link_text()).hexdigest()
        return file_sha256(self.content_path)

    @cached_property
    def size_bytes(self) -> int:
        if self.is_link and self.archived is None:
            return len(self.link_text())
        return self.content_path.stat().st_size


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_ignored(name: str) -> bool:
    """Senders upload under a temporary name and rename when done."""
    return name.startswith(IGNORED_PREFIXES) or name.endswith(IGNORED_SUFFIXES)


def parse_delivery(path: Path) -> Delivery | None:
    """A delivery from its path, or None when the name does not follow the contract (its
    stamp included: a real UTC time)."""
    match = DELIVERY_NAME.match(path.name)
    if not match or _side_of(path.parent.name) is None:
        return None
    stamp = _stamp_time(match["stamp"])
    if stamp is None:
        return None
    return Delivery(source=path.parent.name, feed=match["feed"], path=path, extract_at=stamp)


def stamp_tolerance() -> timedelta:
    """How far in the future a delivery's stamp may lie (a sender's clock a little ahead)."""
    return timedelta(hours=float(governance()["extract_stamp_tolerance_hours"]))


def source_folders(landing_dir: Path, side: str) -> list[Path]:
    if not landing_dir.is_dir():
        return []
    return sorted(
        folder
        for folder in landing_dir.iterdir()
        if folder.is_dir() and not folder.is_symlink() and not is_ignored(folder.name) and _side_of(folder.name) == side
    )


def discover(landing_dir: Path, feed: Feed, found_at: datetime | None = None) -> list[Delivery]:
    """Every delivery of `feed` under the landing root, in the order they must be applied:
    by the sender's extract time, then source. Symbolic links and stamps later than
    `found_at` (now) plus the governed tolerance are strays, not deliveries."""
    latest_stamp = (found_at or datetime.now(timezone.utc)) + stamp_tolerance()
    deliveries = []
    for folder in source_folders(landing_dir, feed.side):
        for path in folder.glob(f"{feed.name}__*"):
            if path.is_symlink() or not path.is_file() or is_ignored(path.name):
                continue
            delivery = parse_delivery(path)
            if (
                delivery
                and delivery.feed == feed.name
                and path.suffix == f".{feed.extension}"
                and delivery.extract_at <= latest_stamp
            ):
                deliveries.append(delivery)
    return sorted(deliveries, key=lambda d: (d.extract_at, d.source, d.file_name))


def strays(landing_dir: Path, contract: Contract, found_at: datetime | None = None) -> list[Stray]:
    """Every file under the landing root that `discover` leaves out, but for uploads in
    progress (`*.part`, `*.tmp`, `.*`), each with the rule it breaks."""
    if not landing_dir.is_dir():
        return []
    latest_stamp = (found_at or datetime.now(timezone.utc)) + stamp_tolerance()
    found = []
    for folder, subfolders, files in os.walk(landing_dir):
        folder_path = Path(folder)
        subfolders[:] = sorted(name for name in subfolders if not is_ignored(name))
        linked_folders = [name for name in subfolders if (folder_path / name).is_symlink()]  # os.walk never enters them
        source = folder_path.relative_to(landing_dir).as_posix()
        for name in sorted([*linked_folders, *(name for name in files if not is_ignored(name))]):
            path = folder_path / name
            reason = _stray_reason(path, source, contract, latest_stamp)
            if reason:
                found.append(_stray(path, source, reason))
    return found


def _stray(path: Path, source: str, reason: str) -> Stray:
    match = DELIVERY_NAME.match(path.name)
    feed = path.name.split("__", 1)[0] if "__" in path.name else None
    stamp = _stamp_time(match["stamp"]) if match else None
    return Stray(source=source, feed=feed, path=path, extract_at=stamp, reason=reason)


def _stray_reason(path: Path, source: str, contract: Contract, latest_stamp: datetime) -> str | None:
    """The first rule the file breaks, or None for a delivery."""
    expected = f"expected {DELIVERY_PATTERN} in a source folder 'sponsor/' or 'cro-<cro_id>/'"
    if path.is_symlink():
        return (
            f"symlink_refused: {source}/{path.name} is a symbolic link, and links are never followed; "
            "deliver the file itself"
        )
    if source == ".":
        return f"unknown_source_folder: {path.name} lies directly in the landing root; {expected}"
    side = _side_of(source)
    if side is None:
        top = source.split("/", 1)[0]
        if _side_of(top) is not None:
            return f"unexpected_subfolder: {source}/ is a folder inside a source folder; {expected}, not in subfolders"
        return (
            f"unknown_source_folder: {top!r} is not a source folder (lower-case 'sponsor' or 'cro-<cro_id>' "
            f"with cro_id of a-z, 0-9, _); {expected}"
        )
    match = DELIVERY_NAME.match(path.name)
    if not match:
        return f"unexpected_name: {path.name!r} does not follow {DELIVERY_PATTERN}; rename it and deliver it again"
    feeds = {feed.name: feed for feed in contract.feeds_of(side)}
    feed = feeds.get(match["feed"])
    if feed is None:
        return (
            f"unknown_feed: {match['feed']!r} is not a {side} feed of the contract ({', '.join(sorted(feeds))}); "
            f"expected {DELIVERY_PATTERN}"
        )
    if match["ext"] != feed.extension:
        return f"wrong_extension: {side} {feed.name} is delivered as .{feed.extension}; expected {feed.name}__<YYYYMMDDTHHMMSSZ>.{feed.extension}"
    stamp = _stamp_time(match["stamp"])
    if stamp is None:
        return (
            f"invalid_stamp: {match['stamp']} is not a real UTC time; expected {DELIVERY_PATTERN} "
            "with the extract time, e.g. 20261103T020000Z"
        )
    if stamp > latest_stamp:
        found_at = (latest_stamp - stamp_tolerance()).strftime("%Y-%m-%dT%H:%M:%SZ")
        hours = stamp_tolerance() / timedelta(hours=1)
        return (
            f"future_stamp: {match['stamp']} is later than the time the file was found ({found_at}) plus the "
            f"governed tolerance of {hours:g} h (extract_stamp_tolerance_hours in expectations/governance.yml); "
            f"check the sender's clock and deliver it again named {DELIVERY_PATTERN} with the real extract time"
        )
    return None


def _stamp_time(stamp: str) -> datetime | None:
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _side_of(folder_name: str) -> str | None:
    try:
        return source_side(folder_name)[0]
    except ValueError:
        return None

