"""One audience's published view, read-only, always its current build.

The publish writer swaps a new build in by replacing `<publish dir>/<audience>` (a
symlink to the build's folder, `builds/<audience>/<build id>/`) and
`<publish dir>/<audience>.duckdb` (a hard link to that folder's database), each with an
atomic rename. A connection keeps the build it opened; so before each query the view
resolves the symlink and, when it names a new build, opens that build's database. (It
opens the build's own path rather than the hard link: DuckDB hands a process that opens
a path it already has open the database it opened there before, the old build.)
Nothing here can open another audience's file or the working warehouse.

A build never changes once published, so what a query returned from it holds for as long as
it is the current build: each build keeps its recent query results (`QueryResults`), and a
page view that asks again (another visitor, a filter set back, the Study page after the
Portfolio) reads them instead of the database. A new build starts with none."""

from __future__ import annotations

import functools
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[1]
AUDIENCE_PATTERN = re.compile(r"^(sponsor|governance|cro-[a-z0-9_]+)$")


def default_publish_dir() -> Path:
    path = Path(os.environ.get("CG_PUBLISH_DIR") or "data/published")
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclass(frozen=True)
class BuildRecord:
    audience: str
    build_id: str
    built_at: datetime
    as_of_date: date | None


class QueryResults:
    """The results of the latest queries of one build, by statement and parameters, at most
    `capacity` of them (the least recently used go first); shared by the page views of all
    visitors, each in its own thread."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self._frames: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> pd.DataFrame | None:
        with self._lock:
            if key in self._frames:
                self._frames.move_to_end(key)
            return self._frames.get(key)

    def put(self, key: tuple, frame: pd.DataFrame) -> None:
        with self._lock:
            self._frames[key] = frame
            if len(self._frames) > self.capacity:
                self._frames.popitem(last=False)


@functools.cache
def open_view(publish_dir: Path, audience: str) -> "PublishedView":
    """The one view of this audience in this process, shared by every page view (and opened by
    `cg-dashboard` before the server answers, so the first visitor does not wait for it)."""
    return PublishedView(publish_dir, audience)


class PublishedView:
    def __init__(self, publish_dir: Path, audience: str):
        if not AUDIENCE_PATTERN.match(audience):
            raise ValueError(f"audience {audience!r} is not sponsor, governance or cro-<id>")
        self.audience = audience
        self.pointer = publish_dir / audience
        if not (self.pointer / f"{audience}.duckdb").exists():
            raise FileNotFoundError(
                f"no published view for {audience} at {self.pointer}: run `make demo` (or the publish assets) first, "
                "or point --publish-dir / CG_PUBLISH_DIR at the folder holding it"
            )
        self._lock = threading.Lock()
        self._build_folder: Path | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._results: QueryResults | None = None

    def current(self) -> "PublishedBuild":
        """The current build, for one page view: every query of it reads that build, even
        if the pipeline publishes the next one meanwhile."""
        build_folder = self.pointer.resolve()
        with self._lock:
            if build_folder != self._build_folder:  # a new build: the old connection closes when no page holds it
                self._con = duckdb.connect(str(build_folder / f"{self.audience}.duckdb"), read_only=True)
                self._build_folder = build_folder
                self._results = QueryResults()
            return PublishedBuild(self.audience, self._con.cursor(), self._results)


class PublishedBuild:
    """One build of an audience's view, through a cursor of its own (one per page view)."""

    def __init__(self, audience: str, cursor: duckdb.DuckDBPyConnection, results: QueryResults):
        self.audience = audience
        self._cursor = cursor
        self._results = results

    def close(self) -> None:
        self._cursor.close()

    def query(self, sql: str, parameters: list | None = None) -> pd.DataFrame:
        key = (sql, tuple(parameters or ()))
        frame = self._results.get(key)
        if frame is None:
            # through Arrow, so dates stay dates (not midnight timestamps) and money stays Decimal
            frame = self._cursor.sql(sql, params=parameters or None).to_arrow_table().to_pandas()
            self._results.put(key, frame)
        return frame.copy(deep=False)  # copy-on-write: what a page changes in its frame stays out of the results

    def build(self) -> BuildRecord:
        (row,) = self._cursor.sql("select audience, build_id, built_at, as_of_date from _published limit 1").fetchall()
        return BuildRecord(*row)

    def has_table(self, table: str) -> bool:
        return not self.query("select 1 from information_schema.tables where table_name = ?", [table]).empty

    def columns(self, table: str) -> set[str]:
        return set(self.query("select column_name from information_schema.columns where table_name = ?", [table])["column_name"])
