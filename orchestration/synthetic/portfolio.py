"""Writing a synthetic portfolio as weekly deliveries in the feed contract's format."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable

from orchestration.contract import Feed, delivery_file_name, load_contract
from orchestration.synthetic import feeds as views
from orchestration.synthetic.world import USD_VALUE, Study, add_months, month_start, simulate

SPONSOR_EXTRACT_HOUR, CRO_EXTRACT_HOUR = 2, 3
SPONSOR_BUCKET = {"grant": "GRANTS", "monitor": "MONITOR", "remote": "MONITOR", "pm": "PROJMGMT", "dm": "DATAMGMT",
                  "site": "REGSTART", "country": "REGSTART", "travel": "PASSTHRU"}


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
    "demo": {"studies": 6, "weeks": 8, "sites_scale": 0.25},
    "medium": {"studies": 50, "weeks": 12, "sites_scale": 1.0},
    "large": {"studies": 500, "weeks": 12, "sites_scale": 1.0},
}


@dataclass
class GenerationSummary:
    files: int = 0
    bytes: int = 0
    rows_by_feed: Counter = field(default_factory=Counter)
    defects: Counter = field(default_factory=Counter)

    def format_table(self) -> str:
        lines = [f"{'feed':<24}{'rows':>12}", "-" * 36]
        lines += [f"{side + '/' + name:<24}{rows:>12,}" for (side, name), rows in sorted(self.rows_by_feed.items())]
        lines += ["-" * 36, f"{'files':<24}{self.files:>12,}", f"{'megabytes':<24}{self.bytes / 1e6:>12.1f}"]
        if self.defects:
            lines.append("defects injected: " + ", ".join(f"{kind} {count}" for kind, count in sorted(self.defects.items())))
        return "\n".join(lines)


def generate_portfolio(landing_dir: Path, spec: PortfolioSpec, progress: Callable[[str], None] | None = None) -> GenerationSummary:
    """Write `spec`'s portfolio into `landing_dir` (sponsor/ and cro-<id>/ folders)."""
    rng = random.Random(spec.seed)
    studies = simulate(spec, rng)
    writer = _Writer(landing_dir, spec)
    extracts = [spec.end_date - timedelta(days=7 * (spec.weeks - 1 - k)) for k in range(spec.weeks)]
    last = datetime.combine(extracts[-1], time(CRO_EXTRACT_HOUR), timezone.utc)
    delay = _recording_delay(spec)
    incremental = {
        ("sponsor", "forecast"): _forecast_versions(studies, last),
        ("sponsor", "invoices"): _invoice_versions(studies, last, spec.seed),
    }
    for cro_id in spec.cros:
        incremental[(cro_id, "events")] = views.event_versions(studies, cro_id, delay) + _event_defects(studies, cro_id, writer)
        incremental[(cro_id, "visits")] = views.visit_versions(studies, cro_id)
        incremental[(cro_id, "site_payments")] = views.payment_versions(studies, cro_id)
        incremental[(cro_id, "accruals")] = _accrual_versions(studies, cro_id, last, spec.seed)
    known = _sponsor_knows(delay)
    for index, day in enumerate(extracts):
        sponsor_at = datetime.combine(day, time(SPONSOR_EXTRACT_HOUR), timezone.utc)
        cro_at = datetime.combine(day, time(CRO_EXTRACT_HOUR), timezone.utc)
        previous = None if index == 0 else datetime.combine(extracts[index - 1], time(CRO_EXTRACT_HOUR), timezone.utc)
        writer.snapshot("sponsor", "studies", sponsor_at, views.sponsor_studies(studies, sponsor_at))
        writer.snapshot("sponsor", "country_plan", sponsor_at, views.country_plan(studies, sponsor_at, spec.seed))
        writer.snapshot("sponsor", "enrollment_plan", sponsor_at, views.enrollment_plan(studies, sponsor_at))
        writer.snapshot("sponsor", "visit_schedule", sponsor_at, views.visit_schedule(studies, sponsor_at))
        writer.snapshot("sponsor", "milestones", sponsor_at, writer.disagree(views.milestones(studies, sponsor_at, known)))
        for feed in ("forecast", "invoices"):
            writer.increment("sponsor", feed, sponsor_at, _due(incremental[("sponsor", feed)], previous, sponsor_at))
        for cro_id in spec.cros:
            source = f"cro-{cro_id}"
            writer.snapshot(source, "studies", cro_at, views.cro_studies(studies, cro_id, cro_at))
            writer.snapshot(source, "sites", cro_at, writer.misname_countries(views.cro_sites(studies, cro_id, cro_at)))
            writer.snapshot(source, "rate_card", cro_at, views.rate_card(cro_id))
            for feed in ("events", "visits", "site_payments", "accruals"):
                writer.increment(source, feed, cro_at, _due(incremental[(cro_id, feed)], previous, cro_at))
        if progress:
            progress(f"extract {index + 1}/{spec.weeks} ({day}): {writer.summary.files} files so far")
    return writer.summary


def _due(versions: list[views.Version], previous: datetime | None, extract: datetime) -> list[dict]:
    """Versions for one delivery: new since the previous extract; the first delivery is
    the initial load, with the latest version of each key as it stood."""
    if previous is None:
        latest: dict[tuple, views.Version] = {}
        for version in sorted((v for v in versions if v.available <= extract), key=lambda v: v.available):
            latest[version.key] = version
        chosen = latest.values()
    else:
        chosen = [v for v in versions if previous < v.available <= extract]
    return [v.row for v in sorted(chosen, key=lambda v: (v.available, v.key))]


def _recording_delay(spec: PortfolioSpec) -> Callable[[str], timedelta]:
    """How long after the fact the CRO records an event: the same working day, except
    randomizations recorded late (and so delivered out of order) at the defect rate."""
    rng = random.Random(f"{spec.seed}/delay")

    def delay(kind: str) -> timedelta:
        if kind == "SUBJ_RANDOMIZED" and rng.random() < spec.defect_rate * 20:
            return timedelta(days=rng.randint(10, 40))
        return timedelta(hours=8)

    return delay


def _sponsor_knows(delay) -> Callable:
    """The sponsor records a milestone when the CRO reports it: the same working day."""
    return lambda study, code, country, site, happened: happened + timedelta(hours=8)


def _event_defects(studies: list[Study], cro_id: str, writer: "_Writer") -> list[views.Version]:
    """Corrections and voids: an SIV first recorded with a wrong date and corrected by a
    later event naming it in `supersedes`; a screening recorded twice and the extra one voided."""
    versions = []
    for study in (s for s in studies if s.cro_id == cro_id):
        for country in study.countries:
            for site in country.sites:
                if writer.inject("correction"):
                    wrong = views.local_moment(site.siv + timedelta(days=writer.rng.randint(2, 6)), country.offset)
                    versions += _correction_pair(study, country, site, wrong, writer)
                for subject in site.subjects:
                    if writer.inject("void"):
                        versions += _void_pair(study, country, site, subject, writer)
    return versions


def _correction_pair(study, country, site, wrong: datetime, writer) -> list[views.Version]:
    first_id, fix_id = writer.next_event_id(), writer.next_event_id()
    base = {"type": "SITE_SIV", "study": study.cro_ref, "country": country.cro_name, "site": site.code, "subject": None}
    wrong_row = {"event_id": first_id, **base, "at": wrong.isoformat(), "recorded_at": (wrong + timedelta(hours=8)).isoformat(), "supersedes": None}
    corrected_on = wrong + timedelta(days=writer.rng.randint(3, 9))
    true_siv = views.local_moment(site.siv, country.offset)
    fix_row = {"event_id": fix_id, **base, "at": true_siv.isoformat(), "recorded_at": corrected_on.isoformat(), "supersedes": first_id}
    return [views.Version(wrong + timedelta(hours=8), (first_id,), wrong_row), views.Version(corrected_on, (fix_id,), fix_row)]


def _void_pair(study, country, site, subject, writer) -> list[views.Version]:
    extra_id, void_id = writer.next_event_id(), writer.next_event_id()
    happened = views.local_moment(subject.screened, country.offset, 11)
    extra = {"event_id": extra_id, "type": "SUBJ_SCREENED", "study": study.cro_ref, "country": country.cro_name,
             "site": site.code, "subject": subject.subject_id, "at": happened.isoformat(),
             "recorded_at": (happened + timedelta(hours=8)).isoformat(), "supersedes": None}
    voided = happened + timedelta(days=writer.rng.randint(1, 5))
    void = {**extra, "event_id": void_id, "type": "VOID", "at": voided.isoformat(), "recorded_at": voided.isoformat(), "supersedes": extra_id}
    return [views.Version(happened + timedelta(hours=8), (extra_id,), extra), views.Version(voided, (void_id,), void)]


def _accrual_versions(studies: list[Study], cro_id: str, last: datetime, seed: int) -> list[views.Version]:
    versions = []
    prices = {code: price for code, _, _, price, _, _ in views.RATE_CARDS["zenith" if cro_id == "zenith" else "acme"]}
    for study in (s for s in studies if s.cro_id == cro_id):
        rng = random.Random(f"{seed}/accruals/{study.study_id}")
        amounts: Counter = Counter()
        units: Counter = Counter()
        for (month, purpose, country), count in sorted(views.monthly_costs(study, last.date()).items(), key=str):
            code = views.rate_code(cro_id, purpose, country)
            units[(month, code)] += count
            amounts[(month, code)] += count * _price(prices, code, cro_id)
        for (month, code), amount in sorted(amounts.items()):
            booked = datetime.combine(add_months(month, 1) + timedelta(days=1), time(10), views.CRO_OFFSET)
            if booked > last or amount <= 0:
                continue
            row = {"CroStudyRef": study.cro_ref, "Month": month.strftime("%Y-%m"), "RateCode": code,
                   "Units": f"{units[(month, code)]:g}", "Amount": views.money(amount), "Currency": study.cro_currency,
                   "InternalCost": views.money(amount * rng.uniform(0.55, 0.75)), "UpdatedAt": booked.isoformat()}
            versions.append(views.Version(booked, (study.cro_ref, row["Month"], code), row))
    return versions


def _price(prices: dict[str, float], code: str, cro_id: str) -> float:
    if cro_id in ("acme", "zenith"):
        return prices[code]
    return prices[code.replace(f"{cro_id[:1].upper()}-", "A-", 1)]


def _monthly_spend(study: Study, until: date) -> dict[tuple[date, str], float]:
    """What the study costs per month and sponsor cost bucket, in its budget currency."""
    cro = "zenith" if study.cro_id == "zenith" else "acme"
    prices = {code: price for code, _, _, price, _, _ in views.RATE_CARDS[cro]}
    spend: Counter = Counter()
    for (month, purpose, country), count in views.monthly_costs(study, until).items():
        amount = count * prices[views.rate_code(cro, purpose, country)]
        spend[(month, SPONSOR_BUCKET[purpose])] += amount * USD_VALUE[study.cro_currency] / USD_VALUE[study.budget_currency]
    return spend


def _forecast_versions(studies: list[Study], last: datetime) -> list[views.Version]:
    versions = []
    for study in studies:
        rng = random.Random(f"forecast/{study.study_id}")
        spend = _monthly_spend(study, last.date() + timedelta(days=400))
        version = month_start(study.protocol_final)
        while True:
            made = datetime.combine(version + timedelta(days=4), time(9), timezone.utc)
            if made > last:
                break
            for ahead in range(1, 13):
                month = add_months(version, ahead)
                for bucket in sorted(set(SPONSOR_BUCKET.values())):
                    expected = spend.get((month, bucket), 0.0)
                    if expected <= 0:
                        continue
                    row = {"study_id": study.study_id, "forecast_version": version.strftime("%Y-%m"), "cost_bucket": bucket,
                           "month": month.strftime("%Y-%m"), "amount": views.money(expected * rng.uniform(0.8, 1.25)),
                           "currency": study.budget_currency}
                    versions.append(views.Version(made, (study.study_id, row["forecast_version"], bucket, row["month"]), row))
            version = add_months(version, 1)
    return versions


def _invoice_versions(studies: list[Study], last: datetime, seed: int) -> list[views.Version]:
    versions = []
    number = 0
    for study in studies:
        rng = random.Random(f"{seed}/invoices/{study.study_id}")
        spend = _monthly_spend(study, last.date())
        for (month, bucket), amount in sorted(spend.items()):
            invoiced = add_months(month, 1) + timedelta(days=4)
            if amount <= 0 or datetime.combine(invoiced, time(9), timezone.utc) > last:
                continue
            number += 1
            in_cro_currency = amount * USD_VALUE[study.budget_currency] / USD_VALUE[study.cro_currency]
            base = {"invoice_id": f"AP-{month.year}-{number:06d}", "study_id": study.study_id, "cro_id": study.cro_id,
                    "invoice_date": invoiced.isoformat(), "cost_bucket": bucket, "amount": views.money(in_cro_currency),
                    "currency": study.cro_currency}
            disputed = rng.random() < 0.05
            steps = [(invoiced, "RECEIVED", ""), (invoiced + timedelta(days=10), "DISPUTED" if disputed else "APPROVED", "")]
            if not disputed:
                paid = invoiced + timedelta(days=rng.randint(25, 45))
                steps.append((paid, "PAID", paid.isoformat()))
            for day, status, paid_date in steps:
                moment = datetime.combine(day, time(9), timezone.utc)
                row = {**base, "status": status, "paid_date": paid_date, "updated_at": views.sponsor_iso(moment)}
                versions.append(views.Version(moment, (base["invoice_id"],), row))
    return versions


class _Writer:
    """Writes deliveries, injecting the realities of the feed contract at the defect rate."""

    def __init__(self, landing_dir: Path, spec: PortfolioSpec):
        self.landing_dir = landing_dir
        self.spec = spec
        self.rng = random.Random(f"{spec.seed}/defects")
        self.contract = load_contract()
        self.summary = GenerationSummary()
        self._event_numbers = iter(range(1, 10**9))

    def inject(self, kind: str, weight: float = 1.0) -> bool:
        if self.spec.defect_rate and self.rng.random() < self.spec.defect_rate * weight:
            self.summary.defects[kind] += 1
            return True
        return False

    def next_event_id(self) -> str:
        return f"FIX-EV-{next(self._event_numbers):07d}"

    def disagree(self, rows: list[dict]) -> list[dict]:
        """Sponsor milestone actual dates that differ from the CRO's, or that only the CRO has yet."""
        for row in rows:
            if row["actual_date"] and row["milestone"] != "PROT_FINAL" and self.inject("milestone_disagreement", 5):
                if self.rng.random() < 0.7:
                    shifted = date.fromisoformat(row["actual_date"]) + timedelta(days=self.rng.choice([-5, -2, -1, 1, 3, 7]))
                    row["actual_date"] = shifted.isoformat()
                else:
                    row["actual_date"] = ""
        return rows

    def misname_countries(self, rows: list[dict]) -> list[dict]:
        for row in rows:
            if self.inject("unknown_country_name"):
                row["Country"] = self.rng.choice(["Untied States", "Germnay", "Frnace"])
        return rows

    def snapshot(self, source: str, feed_name: str, extract: datetime, rows: list[dict]) -> None:
        if rows:
            self._write(source, feed_name, extract, rows)

    def increment(self, source: str, feed_name: str, extract: datetime, rows: list[dict]) -> None:
        if not rows:
            return
        rows = self._row_defects(feed_name, [dict(row) for row in rows])
        path = self._write(source, feed_name, extract, rows)
        if self.inject("file_delivered_twice", 10):
            again = path.with_name(delivery_file_name(self._feed(source, feed_name), extract + timedelta(hours=1)))
            shutil.copyfile(path, again)
            self._count(source, feed_name, again, len(rows))

    def _row_defects(self, feed_name: str, rows: list[dict]) -> list[dict]:
        out = []
        for row in rows:
            out.append(row)
            if feed_name == "visits":
                if self.inject("unknown_visit_code"):
                    out.append({**row, "VisitCode": "V99" if row["VisitCode"].startswith("V") else "UNSCHED"})
                if self.inject("bad_date_format"):
                    row["VisitDate"] = datetime.strptime(row["VisitDate"], "%d-%b-%Y").strftime("%d/%m/%Y")
                if self.inject("duplicate_key_conflict"):
                    out.append({**row, "SdvDate": ""})
            if feed_name == "site_payments" and self.inject("bad_amount"):
                row["Amount"] = row["Amount"].replace(".", ",")
            if feed_name != "events" and self.inject("duplicate_row"):
                out.append(dict(row))
        if feed_name == "events" and self.spec.defect_rate:
            self.rng.shuffle(out)  # events recorded out of order
        return out

    def _feed(self, source: str, feed_name: str) -> Feed:
        return self.contract.feed("sponsor" if source == "sponsor" else "cro", feed_name)

    def _write(self, source: str, feed_name: str, extract: datetime, rows: list[dict]) -> Path:
        feed = self._feed(source, feed_name)
        path = self.landing_dir / source / delivery_file_name(feed, extract)
        path.parent.mkdir(parents=True, exist_ok=True)
        if feed.format == "jsonl":
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=feed.header_columns, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            text = buffer.getvalue()
        path.write_text(text, encoding="utf-8")
        self._count(source, feed_name, path, len(rows))
        return path

    def _count(self, source: str, feed_name: str, path: Path, rows: int) -> None:
        self.summary.files += 1
        self.summary.bytes += path.stat().st_size
        self.summary.rows_by_feed[(self._feed(source, feed_name).side, feed_name)] += rows


def progress_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
