"""Finding deliveries in the landing root: `<root>/<source>/<feed>__<stamp>.<ext>`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from orchestration.contract import (
    DELIVERY_NAME,
    IGNORED_PREFIXES,
    IGNORED_SUFFIXES,
    SIDES,
    Contract,
    Feed,
    source_side,
)


@dataclass(frozen=True)
class Delivery:
    source: str  # landing folder: "sponsor" or "cro-<cro_id>"
    feed: str
    path: Path
    extract_at: datetime

    @property
    def side(self) -> str:
        return source_side(self.source)[0]

    @property
    def cro_id(self) -> str | None:
        return source_side(self.source)[1]

    @property
    def file_name(self) -> str:
        return self.path.name

    @cached_property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    @cached_property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def is_ignored(name: str) -> bool:
    """Senders upload under a temporary name and rename when done."""
    return name.startswith(IGNORED_PREFIXES) or name.endswith(IGNORED_SUFFIXES)


def parse_delivery(path: Path) -> Delivery | None:
    """A delivery from its path, or None when the name does not follow the contract."""
    match = DELIVERY_NAME.match(path.name)
    if not match:
        return None
    try:
        source_side(path.parent.name)
    except ValueError:
        return None
    stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return Delivery(source=path.parent.name, feed=match["feed"], path=path, extract_at=stamp)


def source_folders(landing_dir: Path, side: str) -> list[Path]:
    if not landing_dir.is_dir():
        return []
    return sorted(
        folder
        for folder in landing_dir.iterdir()
        if folder.is_dir() and not is_ignored(folder.name) and _is_side(folder.name, side)
    )


def _is_side(folder_name: str, side: str) -> bool:
    try:
        return source_side(folder_name)[0] == side
    except ValueError:
        return False


def discover(landing_dir: Path, feed: Feed) -> list[Delivery]:
    """Every delivery of `feed` under the landing root, in the order they must be applied:
    by the sender's extract time, then source."""
    deliveries = []
    for folder in source_folders(landing_dir, feed.side):
        for path in folder.glob(f"{feed.name}__*"):
            if not path.is_file() or is_ignored(path.name):
                continue
            delivery = parse_delivery(path)
            if delivery and delivery.feed == feed.name and path.suffix == f".{feed.extension}":
                deliveries.append(delivery)
    return sorted(deliveries, key=lambda d: (d.extract_at, d.source, d.file_name))


def unrecognised_files(landing_dir: Path, contract: Contract) -> list[Path]:
    """Files in source folders that no feed will pick up (misnamed, unknown feed, wrong
    extension): reported so that nothing a sender drops goes unseen."""
    strays = []
    for side in SIDES:
        extensions = {feed.name: f".{feed.extension}" for feed in contract.feeds_of(side)}
        for folder in source_folders(landing_dir, side):
            for path in sorted(folder.iterdir()):
                if not path.is_file() or is_ignored(path.name):
                    continue
                delivery = parse_delivery(path)
                if delivery is None or extensions.get(delivery.feed) != path.suffix:
                    strays.append(path)
    return strays
