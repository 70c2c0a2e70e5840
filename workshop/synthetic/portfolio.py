"""Writing a synthetic portfolio as weekly deliveries in the feed contract's format.

Studies are independent, so the portfolio is streamed: each study is simulated and
rendered on its own (in worker processes when there are several CPUs) and its rows are
appended to the delivery files in study order. Memory holds only the studies in flight,
and the files are the same bytes whatever the number of workers.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import shutil
import sys
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from orchestration.contract import delivery_file_name, load_contract
from workshop.synthetic.defects import Defects
from workshop.synthetic.deliveries import (Chunk, StudyDeliveries, header, rate_card_deliveries, render_study, schedules,
                                                side_of)

STUDIES_AHEAD_PER_WORKER = 4  # rendered ahead of the study being written: keeps both cores busy past a big study
PROGRESS_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class PortfolioSpec:
    studies: int
    seed: int = 7
    weeks: int = 8
    end_date: date = date(2026, 11, 16)
    cros: tuple[str, ...] = ("acme", "zenith")
    sites_scale: float = 0.25
    subjects_scale: float = 1.0
    defect_rate: float = 0.002

    @classmethod
    def for_size(cls, size: str, seed: int = 7) -> "PortfolioSpec":
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}: choose one of {', '.join(SIZES)}")
        return cls(seed=seed, **SIZES[size])


SIZES = {
    "tiny": {"studies": 2, "weeks": 3, "sites_scale": 0.06},
    "demo": {"studies": 6, "weeks": 6, "sites_scale": 0.25},
    "medium": {"studies": 50, "weeks": 12, "sites_scale": 1.0},
    "large": {"studies": 500, "weeks": 12, "sites_scale": 0.8},  # about 40 000 sites (37 000-47 000 by seed)
    "xlarge": {"studies": 1500, "weeks": 12, "sites_scale": 0.8},  # about 45 million rows: run by hand, not in the tests
}


@dataclass
class GenerationSummary:
    files: int = 0
    bytes: int = 0
    rows_by_feed: Counter = field(default_factory=Counter)
    defects: Counter = field(default_factory=Counter)
    sites: int = 0
    subjects: int = 0  # screened
    randomized: int = 0

    def add_study(self, study: StudyDeliveries) -> None:
        self.defects.update(study.defects)
        self.sites += study.sites
        self.subjects += study.subjects
        self.randomized += study.randomized

    def format_table(self) -> str:
        lines = [f"{'feed':<24}{'rows':>12}", "-" * 36]
        lines += [f"{side + '/' + name:<24}{rows:>12,}" for (side, name), rows in sorted(self.rows_by_feed.items())]
        lines += ["-" * 36, f"{'files':<24}{self.files:>12,}", f"{'megabytes':<24}{self.bytes / 1e6:>12.1f}",
                  f"{'sites':<24}{self.sites:>12,}", f"{'subjects screened':<24}{self.subjects:>12,}",
                  f"{'subjects randomized':<24}{self.randomized:>12,}"]
        if self.defects:
            lines.append("defects injected: " + ", ".join(f"{kind} {count}" for kind, count in sorted(self.defects.items())))
        return "\n".join(lines)


def generate_portfolio(landing_dir: Path, spec: PortfolioSpec, progress: Callable[[str], None] | None = None,
                       workers: int | None = None) -> GenerationSummary:
    """Write `spec`'s portfolio into `landing_dir` (sponsor/ and cro-<id>/ folders),
    rendering studies in `workers` processes (default: one per CPU)."""
    summary = GenerationSummary()
    report = _Progress(spec.studies, progress)
    with _DeliveryFiles(landing_dir, spec) as files:
        files.append(rate_card_deliveries(spec))
        for done, study in enumerate(_rendered_in_order(spec, workers or _cpus()), start=1):
            files.append(study.chunks)
            summary.add_study(study)
            report.study_done(done, summary, files)
    files.deliver_some_twice(Defects(spec.defect_rate, random.Random(f"{spec.seed}/deliveries")), summary)
    files.count_into(summary)
    return summary


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rendered_in_order(spec: PortfolioSpec, workers: int) -> Iterator[StudyDeliveries]:
    """Every study's deliveries, in study order, rendered by `workers` processes a few
    studies ahead of the one being written."""
    if min(workers, spec.studies) <= 1:
        yield from (render_study(spec, index) for index in range(spec.studies))
        return
    indices = iter(range(spec.studies))
    # spawn: workers start clean, whatever threads the calling process runs
    with ProcessPoolExecutor(min(workers, spec.studies), mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future[StudyDeliveries]] = deque(
            pool.submit(render_study, spec, index) for index in itertools.islice(indices, workers * STUDIES_AHEAD_PER_WORKER))
        while pending:
            study = pending.popleft().result()
            pending.extend(pool.submit(render_study, spec, index) for index in itertools.islice(indices, 1))
            yield study


class _DeliveryFiles:
    """The delivery files of a portfolio, one per source, feed and extract: created with
    their header when their first rows arrive (so no empty deliveries), then appended to."""

    def __init__(self, landing_dir: Path, spec: PortfolioSpec):
        self.landing_dir = landing_dir
        sponsor, cro = schedules(spec)
        self.extract_times = {"sponsor": sponsor.moments, "cro": cro.moments}
        self.delivered: dict[Path, tuple[str, str, int]] = {}  # path: (source, feed, extract)
        self.rows: Counter[Path] = Counter()
        self._open: dict[tuple[str, str, int], BinaryIO] = {}

    def __enter__(self) -> "_DeliveryFiles":
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()

    @property
    def rows_written(self) -> int:
        return sum(self.rows.values())

    def append(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            key = (chunk.source, chunk.feed, chunk.extract)
            handle = self._open.get(key) or self._create(*key)
            handle.write(chunk.data)
            self.rows[Path(handle.name)] += chunk.rows

    def _create(self, source: str, feed_name: str, extract: int) -> BinaryIO:
        path = self._path(source, feed_name, extract)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._open[(source, feed_name, extract)] = path.open("wb")
        handle.write(header(source, feed_name))
        self.delivered[path] = (source, feed_name, extract)
        return handle

    def _path(self, source: str, feed_name: str, extract: int, later: timedelta = timedelta(0)) -> Path:
        extract_at = self.extract_times[side_of(source)][extract] + later
        return self.landing_dir / source / delivery_file_name(load_contract().feed(side_of(source), feed_name), extract_at)

    def deliver_some_twice(self, defects: Defects, summary: GenerationSummary) -> None:
        """Incremental deliveries sent again an hour later: the same bytes."""
        contract = load_contract()
        for path, (source, feed_name, extract) in sorted(self.delivered.items(), key=lambda item: (item[1][2], item[1][:2])):
            if contract.feed(side_of(source), feed_name).kind == "incremental" and defects.inject("file_delivered_twice", 10):
                again = self._path(source, feed_name, extract, later=timedelta(hours=1))
                shutil.copyfile(path, again)
                self.delivered[again] = (source, feed_name, extract)
                self.rows[again] = self.rows[path]
        summary.defects.update(defects.counts)

    def count_into(self, summary: GenerationSummary) -> None:
        for path, (source, feed_name, _) in self.delivered.items():
            summary.files += 1
            summary.bytes += path.stat().st_size
            summary.rows_by_feed[(side_of(source), feed_name)] += self.rows[path]


class _Progress:
    """Tells how far along the portfolio is, every few seconds and when done."""

    def __init__(self, studies: int, progress: Callable[[str], None] | None):
        self.studies = studies
        self.progress = progress
        self.started = self.reported = time.perf_counter()

    def study_done(self, done: int, summary: GenerationSummary, files: _DeliveryFiles) -> None:
        now = time.perf_counter()
        if self.progress and (done == self.studies or now - self.reported >= PROGRESS_EVERY_SECONDS):
            self.reported = now
            self.progress(f"study {done}/{self.studies}: {summary.sites:,} sites, {summary.subjects:,} subjects, "
                          f"{files.rows_written:,} rows so far ({now - self.started:.0f} s)")


def progress_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
