"""The feed contract, loaded from `feed_contract.yaml`: the single source of truth for
what each side delivers. The reader, the gates and the synthetic generator use it."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import yaml

CONTRACT_PATH = Path(__file__).with_name("feed_contract.yaml")
SIDES = ("sponsor", "cro")
IGNORED_PREFIXES = (".",)
IGNORED_SUFFIXES = (".part", ".tmp")
DELIVERY_PATTERN = "<feed>__<YYYYMMDDTHHMMSSZ>.<csv|jsonl>"
DELIVERY_NAME = re.compile(r"^(?P<feed>[a-z_]+)__(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.(?P<ext>csv|jsonl)$")
CRO_FOLDER = re.compile(r"^cro-(?P<cro_id>[a-z0-9][a-z0-9_]*)$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    optional: bool = False  # may be absent from a delivery (JSON keys such as deviation_id)
    values: tuple[str, ...] = ()
    sensitivity: str = "shared"
    past: bool = False  # something that happened: not after the delivery's extract time
    min: float | None = None
    max: float | None = None
    not_before: str | None = None  # another column of the same row
    staging_name: str = ""  # its name in dbt's staging layer
    normalize: str | None = None  # `code`: trimmed and upper-cased
    blank_as_null: bool = False
    local_date: str | None = None  # a timestamp's calendar date as written, under this name


@dataclass(frozen=True)
class Feed:
    side: str
    name: str
    kind: str  # snapshot | incremental
    format: str  # csv | jsonl
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    date_format: str
    version_column: str | None = None
    description: str = ""

    @property
    def table(self) -> str:
        """Raw table name in the warehouse, e.g. `cro__events`."""
        return f"{self.side}__{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def header_columns(self) -> list[str]:
        """Columns every delivery must carry."""
        return [c.name for c in self.columns if not c.optional]

    @property
    def version_key(self) -> list[str]:
        """What identifies one row version within a delivery: the key, plus the version
        column of an incremental feed (which may carry several versions of one key)."""
        return [*self.key, *([self.version_column] if self.version_column else [])]

    @property
    def extension(self) -> str:
        return self.format

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Contract:
    version: str
    feeds: tuple[Feed, ...]

    def feed(self, side: str, name: str) -> Feed:
        for feed in self.feeds:
            if feed.side == side and feed.name == name:
                return feed
        raise KeyError(f"the feed contract has no {side} feed named {name!r}")

    def feeds_of(self, side: str) -> list[Feed]:
        return [f for f in self.feeds if f.side == side]


@cache
def load_contract(path: Path = CONTRACT_PATH) -> Contract:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    feeds = []
    for side, side_feeds in raw["feeds"].items():
        date_format = raw["sides"][side]["date_format"]
        for name, spec in side_feeds.items():
            columns = tuple(
                Column(
                    name=col_name,
                    type=col["type"],
                    required=col.get("required", False),
                    optional=col.get("optional", False),
                    values=tuple(col.get("values", ())),
                    sensitivity=col.get("sensitivity", "shared"),
                    past=col.get("past", False),
                    min=col.get("min"),
                    max=col.get("max"),
                    not_before=col.get("not_before"),
                    staging_name=col.get("as") or snake_case(col_name),
                    normalize=col.get("normalize"),
                    blank_as_null=col.get("blank_as_null", False),
                    local_date=col.get("local_date"),
                )
                for col_name, col in spec["columns"].items()
            )
            feeds.append(
                Feed(
                    side=side,
                    name=name,
                    kind=spec["kind"],
                    format=spec["format"],
                    key=tuple(spec["key"]),
                    columns=columns,
                    date_format=date_format,
                    version_column=spec.get("version_column"),
                    description=spec.get("description", ""),
                )
            )
    return Contract(version=str(raw["version"]), feeds=tuple(feeds))


def snake_case(name: str) -> str:
    """`CroStudyRef` -> `cro_study_ref`; a name in snake_case stays as it is."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def source_side(source: str) -> tuple[str, str | None]:
    """`sponsor` -> ("sponsor", None); `cro-acme` -> ("cro", "acme")."""
    if source == "sponsor":
        return "sponsor", None
    match = CRO_FOLDER.match(source)
    if not match:
        raise ValueError(f"{source!r} is not a landing folder name: expected 'sponsor' or 'cro-<cro_id>'")
    return "cro", match["cro_id"]


def delivery_file_name(feed: Feed, extract_at: datetime) -> str:
    """The contract's file name for a delivery, e.g. `sites__20261103T020000Z.csv`."""
    stamp = extract_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{feed.name}__{stamp}.{feed.extension}"


def generator_arguments(prog: str, description: str) -> argparse.ArgumentParser:
    """The command line of a command that writes files from the contract: --write or --check."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write the files that differ from the contract")
    action.add_argument("--check", action="store_true", help="exit 1 if any file differs from the contract")
    return parser


def sync_generated(expected: dict[Path, str], check: bool, command: str) -> int:
    """Files generated from the contract: with `check`, name each one that differs from
    `expected` and return 1 if any does; else write those that differ."""
    stale = [path for path, text in expected.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if check:
        for path in stale:
            print(f"stale: {path} (run `{command} --write`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path], encoding="utf-8")
        print(f"wrote {path}")
    print(f"{len(stale)} of {len(expected)} files changed")
    return 0
