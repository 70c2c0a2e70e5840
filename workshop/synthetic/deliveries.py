"""One study's share of every delivery: its rows of each feed for each weekly extract,
as the bytes to append to that delivery's file. Studies are rendered independently (in
any process, from their own random streams); the portfolio appends them in study order."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from orchestration.contract import load_contract
from workshop.synthetic import feeds
from workshop.synthetic.defects import Defects
from workshop.synthetic.feeds import Row, Schedule, Version
from workshop.synthetic.world import Study, simulate_study

SPONSOR_EXTRACT_HOUR, CRO_EXTRACT_HOUR = 2, 3


@dataclass(frozen=True)
class Chunk:
    """Rows to append to the delivery of `feed` from `source` at extract number `extract`."""

    source: str
    feed: str
    extract: int
    rows: int
    data: bytes


@dataclass
class StudyDeliveries:
    chunks: list[Chunk]
    defects: Counter[str]
    sites: int
    subjects: int  # screened
    randomized: int


def schedules(spec) -> tuple[Schedule, Schedule]:
    """The sponsor's and the CROs' weekly extract times."""
    return (Schedule.weekly(spec.end_date, spec.weeks, SPONSOR_EXTRACT_HOUR),
            Schedule.weekly(spec.end_date, spec.weeks, CRO_EXTRACT_HOUR))


def cro_source(cro_id: str) -> str:
    return f"cro-{cro_id}"


def side_of(source: str) -> str:
    return "sponsor" if source == "sponsor" else "cro"


def render_study(spec, index: int) -> StudyDeliveries:
    """Simulate study number `index` of `spec`'s portfolio and render its deliveries."""
    study = simulate_study(spec, index)
    defects = Defects(spec.defect_rate, random.Random(f"{spec.seed}/defects/{index}"))
    sponsor, cro = schedules(spec)
    source = cro_source(study.cro_id)
    chunks = [
        *_sponsor_snapshots(study, sponsor, spec.seed, defects),
        *_increments("sponsor", "forecast", feeds.forecast_versions(study, sponsor, spec.seed), defects),
        *_increments("sponsor", "invoices", feeds.invoice_versions(study, sponsor, spec.seed), defects),
        *_cro_snapshots(study, cro, defects),
        *_increments(source, "events", feeds.event_versions(study, cro, defects), defects),
        *_increments(source, "visits", feeds.visit_versions(study, cro), defects),
        *_increments(source, "site_payments", feeds.payment_versions(study, cro), defects),
        *_increments(source, "accruals", feeds.accrual_versions(study, cro, spec.seed), defects),
    ]
    subjects = [subject for site in study.sites for subject in site.subjects]
    return StudyDeliveries(chunks, defects.counts, len(study.sites), len(subjects), sum(1 for s in subjects if s.randomized))


def _sponsor_snapshots(study: Study, schedule: Schedule, seed: int, defects: Defects) -> list[Chunk]:
    # the plans and the visit schedule do not change between extracts: rendered once
    plans = [_chunk("sponsor", "country_plan", 0, feeds.country_plan(study, seed)),
             _chunk("sponsor", "enrollment_plan", 0, feeds.enrollment_plan(study)),
             _chunk("sponsor", "visit_schedule", 0, feeds.visit_schedule(study))]
    records = feeds.milestones(study)
    chunks = []
    for extract, moment in _listed_extracts(study, schedule):
        chunks.append(_chunk("sponsor", "studies", extract, [feeds.sponsor_study(study, moment.date())]))
        chunks += [replace(plan, extract=extract) for plan in plans]
        chunks.append(_chunk("sponsor", "milestones", extract, feeds.milestone_rows(study, records, moment, defects)))
    return [chunk for chunk in chunks if chunk.rows]


def _cro_snapshots(study: Study, schedule: Schedule, defects: Defects) -> list[Chunk]:
    source = cro_source(study.cro_id)
    chunks = []
    for extract, moment in _listed_extracts(study, schedule):
        chunks.append(_chunk(source, "studies", extract, [feeds.cro_study(study)]))
        chunks.append(_chunk(source, "sites", extract, feeds.cro_sites(study, moment.date(), defects)))
    return [chunk for chunk in chunks if chunk.rows]


def _listed_extracts(study: Study, schedule: Schedule):
    return [(extract, moment) for extract, moment in enumerate(schedule.moments) if feeds.listed(study, moment.date())]


def _increments(source: str, feed_name: str, versions: list[Version], defects: Defects) -> list[Chunk]:
    """The versions, delivery by delivery, in the order they became known (then by row,
    which starts with the key)."""
    by_extract: dict[int, list[tuple[int, Row]]] = defaultdict(list)
    for extract, known, row in versions:
        by_extract[extract].append((known, row))
    chunks = []
    for extract in sorted(by_extract):
        rows = defects.delivered_rows(feed_name, [row for _, row in sorted(by_extract[extract])])
        chunks.append(_chunk(source, feed_name, extract, rows))
    return chunks


def _chunk(source: str, feed_name: str, extract: int, rows: list[Row]) -> Chunk:
    return Chunk(source, feed_name, extract, len(rows), _text(rows))


def _text(rows: list[Row]) -> bytes:
    if not rows:
        return b""
    lines = rows if isinstance(rows[0], str) else map(",".join, rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


def header(source: str, feed_name: str) -> bytes:
    """What a delivery file starts with: the header row of a CSV, nothing for JSON Lines."""
    feed = load_contract().feed(side_of(source), feed_name)
    return (",".join(feed.header_columns) + "\n").encode("utf-8") if feed.format == "csv" else b""


def rate_card_deliveries(spec) -> list[Chunk]:
    """Each CRO's rate card, the same at every extract."""
    _, cro = schedules(spec)
    return [_chunk(cro_source(cro_id), "rate_card", extract, feeds.rate_card(cro_id))
            for cro_id in spec.cros for extract in range(len(cro.moments))]
