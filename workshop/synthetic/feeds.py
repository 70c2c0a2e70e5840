"""The parties' views of one study's simulated truth, feed by feed, as delivery rows.

Snapshot feeds are a function of the extract time (the state then). Incremental feeds
are row versions, each with the moment it became known: a delivery carries the versions
that became known since the previous extract; the first delivery is the sender's
backfill, every version recorded until then, as an audit-trail export at onboarding
carries (`Schedule.deliveries`). Only versions that some delivery carries are rendered.

This is the hot path of a large portfolio, so rows are built as strings directly: a CSV
row is a tuple of its fields in the contract's column order, an event a JSON line. Only
free text (names, descriptions) can need CSV quoting, and goes through `csv_field`.
"""

from __future__ import annotations

import itertools
import json
import random
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache, cached_property
from typing import TYPE_CHECKING, Iterator, NamedTuple, Sequence, Union

from workshop.synthetic.world import USD_VALUE, Country, Site, Study, Subject, Visit, add_months, month_start

if TYPE_CHECKING:
    from workshop.synthetic.defects import Defects

CRO_OFFSET = 1  # hours east of UTC where the CROs record study-level events
RATE_CARDS = {
    "acme": [("A-GRANT-VIS", "Investigator grant per visit", "visit", 900.0, None, "GRANTS"),
             ("A-GRANT-VIS-JP", "Investigator grant per visit (Japan rate)", "visit", 1100.0, "EXC-2025-031", "GRANTS"),
             ("A-MON-OSV", "On-site monitoring visit", "visit", 2150.0, None, "MONITOR"),
             ("A-MON-OSV-PL", "On-site monitoring visit (Poland rate)", "visit", 1650.0, "EXC-2025-014", "MONITOR"),
             ("A-MON-RMV", "Remote monitoring visit", "visit", 950.0, None, "MONITOR"),
             ("A-PM-MTH", "Project management", "month", 9800.0, None, "PROJMGMT"),
             ("A-DM-MTH", "Data management", "month", 4200.0, None, "DATAMGMT"),
             ("A-SSU-SITE", "Site start-up", "site", 3500.0, None, "REGSTART"),
             ("A-REG-CTRY", "Country submission", "country", 8000.0, None, "REGSTART"),
             ("A-PT-TRAVEL", "Travel (pass-through)", "item", 1.0, None, "PASSTHRU")],
    "zenith": [("Z-100", "Investigator grants", "visit", 1000.0, None, "GRANTS"),
               ("Z-200", "Monitoring visit", "visit", 2400.0, None, "MONITOR"),
               ("Z-200-DE", "Monitoring visit (Germany rate)", "visit", 2600.0, "EXC-Z-0007", "MONITOR"),
               ("Z-210", "Remote monitoring", "visit", 1000.0, None, "MONITOR"),
               ("Z-300", "Project management", "month", 11000.0, None, "PROJMGMT"),
               ("Z-400", "Data management", "month", 4800.0, None, "DATAMGMT"),
               ("Z-500", "Site start-up", "site", 4000.0, None, "REGSTART"),
               ("Z-510", "Country submission", "country", 9000.0, None, "REGSTART"),
               ("Z-900", "Pass-through", "item", 1.0, None, "PASSTHRU")],
}
SPONSOR_BUCKET = {"grant": "GRANTS", "monitor": "MONITOR", "remote": "MONITOR", "pm": "PROJMGMT", "dm": "DATAMGMT",
                  "site": "REGSTART", "country": "REGSTART", "travel": "PASSTHRU"}
ACME_RATE_CODES = {"grant": "A-GRANT-VIS", "monitor": "A-MON-OSV", "remote": "A-MON-RMV", "pm": "A-PM-MTH",
                   "dm": "A-DM-MTH", "site": "A-SSU-SITE", "country": "A-REG-CTRY", "travel": "A-PT-TRAVEL"}
ZENITH_RATE_CODES = {"grant": "Z-100", "monitor": "Z-200", "remote": "Z-210", "pm": "Z-300", "dm": "Z-400",
                     "site": "Z-500", "country": "Z-510", "travel": "Z-900"}
CLOSE_OUT = (("DB_LOCK", 0), ("TMF_RECON", 30), ("FIN_RECON", 45))
ACME_VISIT_CODES = {"SCR": "SCRN", "RND": "RAND", "W02": "W2", "W04": "W4", "W08": "W8", "EOT": "EOT", "FU": "FUP"}
# zenith numbers its visit codes in the order they entered its system
ZENITH_VISIT_ORDER = ["SCR", "RND", "W02", "W04", "W08", "W12", "W16", "W24", "W36", "W52", "EOT", "FU",
                      "W06", "W10", "W20", "W28", "W32", "W40", "W44", "W48"]

Row = Union[tuple[str, ...], str]  # CSV fields in the contract's column order, or a JSON line
Version = tuple[int, int, Row]  # (index of the extract that delivers it, epoch second it became known, row)


# Extract times and timestamps --------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """One side's weekly extract times."""

    moments: tuple[datetime, ...]

    @classmethod
    def weekly(cls, end: date, weeks: int, hour: int) -> "Schedule":
        days = [end - timedelta(days=7 * (weeks - 1 - k)) for k in range(weeks)]
        return cls(tuple(datetime.combine(day, time(hour), timezone.utc) for day in days))

    @cached_property
    def epochs(self) -> list[int]:
        return [int(moment.timestamp()) for moment in self.moments]

    @property
    def last_day(self) -> date:
        return self.moments[-1].date()

    def window(self, known: int) -> int | None:
        """The extract whose delivery carries a version that became known at epoch second
        `known`: the first extract at or after it (None if after the last)."""
        epochs = self.epochs
        return bisect_left(epochs, known) if known <= epochs[-1] else None

    def deliveries(self, known: Sequence[int]) -> list[tuple[int, int]]:
        """Which versions of one key go into which delivery, as (version index, extract
        index), given when each became known (in that order): each goes into the first
        delivery at or after it, so the first delivery is the backfill of every version
        known by then."""
        return [(version, extract) for version, moment in enumerate(known) if (extract := self.window(moment)) is not None]


class Stamp(NamedTuple):
    epoch: int
    local: str  # ISO 8601 with the local offset, as the CROs write timestamps
    utc: str  # ISO 8601 UTC with Z, as the sponsor writes them


@cache
def stamp(day: date, offset: int, hour: int) -> Stamp:
    """`hour` o'clock (24 and later roll over into the next days) on `day`, `offset` hours
    east of UTC. Cached: the same few thousand days recur for millions of rows."""
    moment = datetime.combine(day, time(), timezone(timedelta(hours=offset))) + timedelta(hours=hour)
    return Stamp(int(moment.timestamp()), moment.isoformat(), moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


@cache
def cro_date(day: date | None) -> str:
    return f"{day.day:02d}-{day.strftime('%b')}-{day.year}" if day else ""


@cache
def year_month(day: date) -> str:
    return day.strftime("%Y-%m")


def money(amount: float) -> str:
    return f"{amount:.2f}"


def decimal(value: float) -> str:
    """A quantity in plain decimal notation, without trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def csv_field(text: str) -> str:
    """`text` as a CSV field, quoted as the csv module quotes (only when it must be)."""
    if any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@cache
def json_name(text: str | None) -> str:
    return json.dumps(text, ensure_ascii=False)


def json_code(code: str | None) -> str:
    """A code or id this generator makes (letters, digits, hyphens: nothing to escape)."""
    return "null" if code is None else f'"{code}"'


def event_line(event_id: str, kind: str, study_ref: str, country: str | None, site: str | None, subject: str | None,
               at: str, recorded_at: str, supersedes: str | None = None, extra: dict[str, str] | None = None) -> str:
    """One event as a JSON object, keys in the contract's order; the fields of deviations and
    risks (deviation_id, risk_id, severity, category) only on the event types that use them."""
    extras = "".join(f', "{key}": {json_name(value)}' for key, value in (extra or {}).items())
    return (f'{{"event_id": "{event_id}", "type": "{kind}", "study": "{study_ref}", "country": {json_name(country)}, '
            f'"site": {json_code(site)}, "subject": {json_code(subject)}, "at": "{at}", "recorded_at": "{recorded_at}", '
            f'"supersedes": {json_code(supersedes)}{extras}}}')


def numbered_ids(prefix: str, study: Study):
    """Ids unique across the portfolio, numbered within the study: PREFIX-SSSS-NNNNNN."""
    return (f"{prefix}-{study.index + 1:04d}-{n:06d}" for n in itertools.count(1))


# Codes -------------------------------------------------------------------------------------


def cro_visit_code(cro_id: str, protocol_code: str) -> str:
    if cro_id == "zenith":
        return f"V{ZENITH_VISIT_ORDER.index(protocol_code) + 1:02d}"
    return ACME_VISIT_CODES.get(protocol_code, protocol_code)


def rate_code(cro_id: str, purpose: str, country: str | None = None) -> str:
    """The CRO's rate code for a purpose (its own scheme), exceptions included."""
    if cro_id == "zenith":
        return "Z-200-DE" if (purpose, country) == ("monitor", "DE") else ZENITH_RATE_CODES[purpose]
    exception = {("monitor", "PL"): "A-MON-OSV-PL", ("grant", "JP"): "A-GRANT-VIS-JP"}.get((purpose, country))
    return _own_code(cro_id, exception or ACME_RATE_CODES[purpose])


def _own_code(cro_id: str, acme_code: str) -> str:
    """Other acme-style CROs use acme's scheme under their own initial."""
    return acme_code if cro_id in ("acme", "zenith") else acme_code.replace("A-", f"{cro_id[:1].upper()}-", 1)


def _rate_card(cro_id: str) -> list[tuple]:
    return RATE_CARDS["zenith" if cro_id == "zenith" else "acme"]


def _price(cro_id: str, code: str) -> float:
    prices = {_own_code(cro_id, own): price for own, _, _, price, _, _ in _rate_card(cro_id)}
    return prices[code]


# Sponsor snapshots -----------------------------------------------------------------------


def listed(study: Study, today: date) -> bool:
    return _set_up(study) <= today


def _set_up(study: Study) -> date:
    """The sponsor sets a study up in its CTMS a month before the protocol is final."""
    return study.protocol_final - timedelta(days=30)


def sponsor_study(study: Study, today: date) -> tuple[str, ...]:
    final = study.protocol_final.isoformat() if study.protocol_final <= today else ""
    return (study.study_id, study.protocol_version, final, "3",
            ("Oncology", "Cardiology", "Neurology", "Respiratory", "Immunology")[int(study.study_id[-1]) % 5],
            study.cro_id, str(len(study.countries)), str(sum(c.planned_sites for c in study.countries)),
            str(sum(c.planned_subjects for c in study.countries)), study.budget_currency, _study_status(study, today))


def _study_status(study: Study, today: date) -> str:
    if study.closed and study.closed <= today:
        return "CLOSED"
    return "ACTIVE" if study.first_siv <= today else "PLANNED"


def country_plan(study: Study, seed: int) -> list[tuple[str, ...]]:
    rows = []
    for country in study.countries:
        jitter = random.Random(f"{seed}/{study.study_id}/{country.code}")
        first_fpi = country.first_screened or country.first_siv + timedelta(days=30)
        rows.append((study.study_id, country.code, str(country.planned_sites), str(country.planned_subjects),
                     (country.ready + timedelta(days=jitter.randint(-20, 10))).isoformat(),
                     (country.first_siv + timedelta(days=jitter.randint(-25, 10))).isoformat(),
                     (first_fpi + timedelta(days=jitter.randint(-25, 10))).isoformat()))
    return rows


def enrollment_plan(study: Study) -> list[tuple[str, ...]]:
    rows = []
    for country in study.countries:
        start = month_start(country.first_siv + timedelta(days=20))
        for offset in range(18):
            cumulative = round(country.planned_subjects * (offset + 1) / 18)
            rows.append((study.study_id, country.code, year_month(add_months(start, offset)), str(cumulative)))
    return rows


def visit_schedule(study: Study) -> list[tuple[str, ...]]:
    return [(study.study_id, study.protocol_version, code, _visit_name(code), str(day), "Y" if ctq else "N",
             "Y" if payable else "N", money(fee / USD_VALUE[study.budget_currency]), study.budget_currency)
            for code, day, ctq, payable, fee in study.visits]


def _visit_name(code: str) -> str:
    names = {"SCR": "Screening", "RND": "Randomisation", "EOT": "End of treatment", "FU": "Follow-up"}
    return names[code] if code in names else f"Week {int(code[1:])}"


class Milestone(NamedTuple):
    country: str  # empty at study level
    site: str  # empty above site level
    code: str
    day: date
    known_from: int  # epoch second the sponsor learns the actual date
    updated_at: str
    shown_from: date = date.min


def milestones(study: Study) -> list[Milestone]:
    """The sponsor's milestone records. The sponsor learns an actual date when the CRO
    reports it (the same working day), except the protocol's finalisation: its own."""
    final = stamp(study.protocol_final, 0, 16)
    records = [Milestone("", "", "PROT_FINAL", study.protocol_final, final.epoch, final.utc)]

    def reported(country: str, site: str, code: str, day: date, offset: int, hour: int, shown_from=date.min):
        known = stamp(day, offset, hour + 8)
        records.append(Milestone(country, site, code, day, known.epoch, known.utc, shown_from))

    for country in study.countries:
        reported(country.code, "", "CTRY_READY", country.ready, country.offset, 10)
        for site in country.sites:
            for code, day in (("SITE_SEL", site.selected), ("SITE_IRB", site.irb_ok), ("SITE_CTA", site.cta_signed),
                              ("SITE_SYS", site.systems_ready)):
                reported(country.code, site.number, code, day, country.offset, 10)
            reported(country.code, site.number, "SITE_READY", site.siv, country.offset, 10)
            if site.first_screened:
                reported(country.code, site.number, "FPI", site.first_screened, country.offset, 9)
        if country.first_screened:
            reported(country.code, "", "FPI", country.first_screened, country.offset, 9)
    if study.first_screened:
        reported("", "", "FPI", study.first_screened, 0, 9)
    if study.closed:
        last_randomized = max((subject.randomized for site in study.sites for subject in site.subjects
                               if subject.randomized and subject.randomized <= study.closed), default=None)
        if last_randomized:
            reported("", "", "LPI", last_randomized, CRO_OFFSET, 12, shown_from=study.closed)
        for code, days in CLOSE_OUT:
            reported("", "", code, study.closed + timedelta(days=days), CRO_OFFSET, 12, shown_from=study.closed)
    return records


def milestone_rows(study: Study, records: list[Milestone], extract: datetime, defects: Defects) -> list[tuple[str, ...]]:
    """The milestones as the sponsor has them at `extract`."""
    today, now = extract.date(), int(extract.timestamp())
    set_up = stamp(_set_up(study), 0, 0).utc  # when records without an actual date were last updated
    rows = []
    for record in records:
        if record.shown_from > today:
            continue
        if record.known_from > now:
            rows.append((study.study_id, record.country, record.site, record.code, record.day.isoformat(), "", set_up))
            continue
        actual = record.day.isoformat() if record.code == "PROT_FINAL" else defects.sponsor_actual_date(record.day)
        rows.append((study.study_id, record.country, record.site, record.code, record.day.isoformat(), actual, record.updated_at))
    return rows


# CRO snapshots -----------------------------------------------------------------------------


def cro_study(study: Study) -> tuple[str, ...]:
    return (study.cro_ref, study.study_id, study.protocol_version)


def cro_sites(study: Study, today: date, defects: Defects) -> list[tuple[str, ...]]:
    closed = bool(study.closed and study.closed <= today)
    rows = []
    for country in study.countries:
        name = csv_field(country.cro_name)
        for site in country.sites:
            if site.selected > today:  # the CRO lists a site once it is selected
                continue
            rows.append((study.cro_ref, site.code, site.number, defects.cro_country_name(name), _site_status(site, today, closed)))
    return rows


def _site_status(site: Site, today: date, study_closed: bool) -> str:
    if study_closed:
        return "Closed"
    if site.first_screened and site.first_screened <= today:
        return "Enrolling"
    return "Activated" if site.siv <= today else "Selected"


def rate_card(cro_id: str) -> list[tuple[str, ...]]:
    currency = "USD" if cro_id == "zenith" else "EUR"
    return [(_own_code(cro_id, code), csv_field(description), unit, money(price), currency, "01-Jan-2020", "", exception or "")
            for code, description, unit, price, exception, _ in _rate_card(cro_id)]


# CRO incremental feeds -------------------------------------------------------------------


def event_versions(study: Study, schedule: Schedule, defects: Defects) -> list[Version]:
    """Every event the CRO records for the study, as recorded: the same working day, or
    later when the defects say so; corrections and voids included."""
    versions: list[Version] = []
    ids = numbered_ids("ZEV" if study.cro_id == "zenith" else f"{study.cro_id[:3].upper()}-EV", study)

    def record(kind: str, country: Country | None, day: date, hour: int = 10, site: str | None = None, subject: str | None = None,
               extra: dict[str, str] | None = None):
        offset = country.offset if country else CRO_OFFSET
        late_days = defects.recording_delay_days(kind)
        recorded = stamp(day + timedelta(days=late_days), offset, hour) if late_days else stamp(day, offset, hour + 8)
        event_id = next(ids)  # numbered whether delivered or not
        extract = schedule.window(recorded.epoch)
        if extract is not None:
            versions.append((extract, recorded.epoch, event_line(
                event_id, kind, study.cro_ref, country.cro_name if country else None, site, subject,
                stamp(day, offset, hour).local, recorded.local, extra=extra)))

    for country in study.countries:
        record("CTRY_APPROVED", country, country.approved)
        record("CTRY_READY", country, country.ready)
        for site in country.sites:
            record("SITE_SELECTED", country, site.selected, site=site.code)
            record("SITE_IRB_OK", country, site.irb_ok, site=site.code)
            record("SITE_CTA_SIGNED", country, site.cta_signed, site=site.code)
            record("SITE_SYSTEMS_READY", country, site.systems_ready, site=site.code)
            record("SITE_SIV", country, site.siv, site=site.code)
            for subject in site.subjects:
                record("SUBJ_SCREENED", country, subject.screened, 9, site.code, subject.subject_id)
                if subject.randomized:
                    record("SUBJ_RANDOMIZED", country, subject.randomized, site=site.code, subject=subject.subject_id)
                if subject.screen_failed:
                    record("SUBJ_SCREEN_FAIL", country, subject.screen_failed, site=site.code, subject=subject.subject_id)
                for deviation in subject.deviations:
                    record("DEV_OPENED", country, deviation.opened, 11, site.code, subject.subject_id,
                           {"deviation_id": deviation.deviation_id, "severity": deviation.severity})
                    if deviation.closed:
                        record("DEV_CLOSED", country, deviation.closed, 11, site.code, subject.subject_id,
                               {"deviation_id": deviation.deviation_id})
    for risk in study.risks:
        site = risk.site.code if risk.site else None
        record("RISK_OPENED", risk.country, risk.opened, 14, site,
               extra={"risk_id": risk.risk_id, "severity": risk.severity, "category": risk.category})
        if risk.closed:
            record("RISK_CLOSED", risk.country, risk.closed, 14, site, extra={"risk_id": risk.risk_id})
    for kind, days in CLOSE_OUT if study.closed else ():
        record(kind, None, study.closed + timedelta(days=days), hour=12)
    for known, line in defects.corrected_and_voided_events(study):
        extract = schedule.window(known)
        if extract is not None:
            versions.append((extract, known, line))
    return versions


def _visits_of(study: Study) -> Iterator[tuple[Country, Site, Subject, Visit]]:
    for country in study.countries:
        for site in country.sites:
            for subject in site.subjects:
                for visit in subject.visits:
                    yield country, site, subject, visit


def visit_versions(study: Study, schedule: Schedule) -> list[Version]:
    """Each visit as its finance state moves on: not eligible, eligible once source-verified,
    then payable or on hold, then paid."""
    versions: list[Version] = []
    codes = {code: cro_visit_code(study.cro_id, code) for code, *_ in study.visits}
    for country, site, subject, visit in _visits_of(study):
        states = _finance_states(visit)
        stamps = [stamp(day, country.offset, 17) for day, _, _ in states]
        for version, extract in schedule.deliveries([moment.epoch for moment in stamps]):
            _, sdv, state = states[version]
            versions.append((extract, stamps[version].epoch, (
                study.cro_ref, site.code, subject.subject_id, codes[visit.visit_code], cro_date(visit.visit_date),
                cro_date(sdv), state, stamps[version].local)))
    return versions


def _finance_states(visit: Visit) -> list[tuple[date, date | None, str]]:
    """(day it changed, SDV date shown, finance state) of a visit, in order."""
    states = [(visit.visit_date, None, "NE"), (visit.sdv_date, visit.sdv_date, "EL")]
    if visit.payable_date:
        states.append((visit.payable_date, visit.sdv_date, "HD" if visit.held else "PY"))
        if not visit.held:
            states.append((visit.paid_date, visit.sdv_date, "PD"))
    return states


def payment_versions(study: Study, schedule: Schedule) -> list[Version]:
    """The site payment of each payable visit: payable (or held), then paid."""
    versions: list[Version] = []
    ids = numbered_ids("ZP" if study.cro_id == "zenith" else f"{study.cro_id[:3].upper()}-PAY", study)
    codes = {code: cro_visit_code(study.cro_id, code) for code, *_ in study.visits}
    for country, site, subject, visit in _visits_of(study):
        if not visit.payable_date:
            continue
        payment_id = next(ids)
        steps = [(stamp(visit.payable_date, country.offset, 12), "", "HELD" if visit.held else "PAYABLE")]
        if not visit.held:
            steps.append((stamp(visit.paid_date, country.offset, 12), cro_date(visit.paid_date), "PAID"))
        for version, extract in schedule.deliveries([moment.epoch for moment, _, _ in steps]):
            moment, paid_date, status = steps[version]
            versions.append((extract, moment.epoch, (
                payment_id, study.cro_ref, site.code, subject.subject_id, codes[visit.visit_code], money(visit.fee),
                visit.currency, cro_date(visit.payable_date), paid_date, status, moment.local)))
    return versions


def accrual_versions(study: Study, schedule: Schedule, seed: int) -> list[Version]:
    """What the CRO books per month and rate code, the month after, with its internal cost."""
    rng = random.Random(f"{seed}/accruals/{study.study_id}")
    amounts: Counter = Counter()
    units: Counter = Counter()
    for (month, purpose, country), count in sorted(monthly_units(study, schedule.last_day).items(), key=str):
        code = rate_code(study.cro_id, purpose, country)
        units[(month, code)] += count
        amounts[(month, code)] += count * _price(study.cro_id, code)
    versions: list[Version] = []
    for (month, code), amount in sorted(amounts.items()):
        booked = stamp(add_months(month, 1) + timedelta(days=1), CRO_OFFSET, 10)
        extract = schedule.window(booked.epoch)
        if extract is None or amount <= 0:
            continue
        versions.append((extract, booked.epoch, (
            study.cro_ref, year_month(month), code, decimal(units[(month, code)]), money(amount), study.cro_currency,
            money(amount * rng.uniform(0.55, 0.75)), booked.local)))
    return versions


def monthly_units(study: Study, until: date) -> Counter[tuple[date, str, str | None]]:
    """Units per (month, purpose, country) of what the CRO bills before `until`, from the truth."""
    units: Counter = Counter()

    def add(day: date, purpose: str, amount: float, country: str | None = None):
        if day < until:
            units[(month_start(day), purpose, country)] += amount

    end = min(until, study.closed or until)
    month = month_start(study.protocol_final)
    while month < month_start(end):
        add(month, "pm", 1)
        month = add_months(month, 1)
    for country in study.countries:
        add(country.approved, "country", 1)
        for site in country.sites:
            add(site.siv, "site", 1)
    visits_per_month: Counter = Counter()
    for (day, country), visits in study.visits_per_day.items():
        if day < until:
            visits_per_month[(month_start(day), country)] += visits
    for (month, country), visits in visits_per_month.items():
        add(month, "grant", visits, country)
        add(month, "monitor", 0.25 * visits, country)
        add(month, "remote", 0.25 * visits)
        add(month, "travel", 85.0 * visits)
    if study.first_screened:
        month = month_start(study.first_screened)
        while month < month_start(end):
            add(month, "dm", 1)
            month = add_months(month, 1)
    return units


# Sponsor incremental feeds ---------------------------------------------------------------


def _monthly_spend(study: Study, until: date) -> Counter[tuple[date, str]]:
    """What the study costs per month and sponsor cost bucket, in its budget currency."""
    spend: Counter = Counter()
    for (month, purpose, country), count in monthly_units(study, until).items():
        amount = count * _price(study.cro_id, rate_code(study.cro_id, purpose, country))
        spend[(month, SPONSOR_BUCKET[purpose])] += amount * USD_VALUE[study.cro_currency] / USD_VALUE[study.budget_currency]
    return spend


def forecast_versions(study: Study, schedule: Schedule, seed: int) -> list[Version]:
    """A forecast a month, early in the month, of the next twelve months' spend per bucket."""
    rng = random.Random(f"{seed}/forecast/{study.study_id}")
    spend = _monthly_spend(study, schedule.last_day + timedelta(days=400))
    buckets = sorted(set(SPONSOR_BUCKET.values()))
    versions: list[Version] = []
    version = month_start(study.protocol_final)
    while True:
        made = stamp(version + timedelta(days=4), 0, 9)
        extract = schedule.window(made.epoch)
        if extract is None:
            break
        for ahead in range(1, 13):
            month = add_months(version, ahead)
            for bucket in buckets:
                expected = spend.get((month, bucket), 0.0)
                if expected > 0:
                    versions.append((extract, made.epoch, (
                        study.study_id, year_month(version), bucket, year_month(month),
                        money(expected * rng.uniform(0.8, 1.25)), study.budget_currency)))
        version = add_months(version, 1)
    return versions


def invoice_versions(study: Study, schedule: Schedule, seed: int) -> list[Version]:
    """The CRO's monthly invoices per bucket as the sponsor's ERP tracks them: received,
    then approved or disputed, then paid."""
    rng = random.Random(f"{seed}/invoices/{study.study_id}")
    ids = numbered_ids("AP", study)
    versions: list[Version] = []
    for (month, bucket), amount in sorted(_monthly_spend(study, schedule.last_day).items()):
        invoiced = add_months(month, 1) + timedelta(days=4)
        if amount <= 0 or schedule.window(stamp(invoiced, 0, 9).epoch) is None:
            continue
        invoice = (next(ids), study.study_id, study.cro_id, invoiced.isoformat(), bucket,
                   money(amount * USD_VALUE[study.budget_currency] / USD_VALUE[study.cro_currency]), study.cro_currency)
        disputed = rng.random() < 0.05
        steps = [(invoiced, "RECEIVED", ""), (invoiced + timedelta(days=10), "DISPUTED" if disputed else "APPROVED", "")]
        if not disputed:
            paid = invoiced + timedelta(days=rng.randint(25, 45))
            steps.append((paid, "PAID", paid.isoformat()))
        moments = [stamp(day, 0, 9) for day, _, _ in steps]
        for version, extract in schedule.deliveries([moment.epoch for moment in moments]):
            _, status, paid_date = steps[version]
            versions.append((extract, moments[version].epoch, (*invoice, status, paid_date, moments[version].utc)))
    return versions
