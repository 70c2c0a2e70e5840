"""The simulated truth of a portfolio: studies, countries, sites, subjects, visits,
payments and monthly costs. Both parties' deliveries are views of this one truth, so
with no defects injected the sponsor's and the CRO's records agree exactly.

Distributions follow published figures for industry phase III trials: sites per study
lognormal with median 64 (IQR about 30-118), about 6 randomized subjects per site over
about 18 months, screen failure 20-50 %, site activation 100-250 days after protocol final.

Studies are independent: each is simulated from its own random stream, so any one study
can be simulated alone, in any process, and comes out the same.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

# ISO code, acme-style name, zenith-style name, UTC offset (hours), local currency
COUNTRIES = [
    ("US", "United States", "USA", -5, "USD"), ("DE", "Germany", "Germany", 1, "EUR"),
    ("FR", "France", "France", 1, "EUR"), ("ES", "Spain", "Spain", 1, "EUR"),
    ("IT", "Italy", "Italy", 1, "EUR"), ("GB", "United Kingdom", "UK", 0, "GBP"),
    ("PL", "Poland", "Poland", 1, "PLN"), ("CA", "Canada", "Canada", -5, "CAD"),
    ("JP", "Japan", "Japan", 9, "JPY"), ("KR", "Korea, Republic of", "South Korea", 9, "USD"),
    ("AU", "Australia", "Australia", 10, "USD"), ("BR", "Brazil", "Brazil", -3, "USD"),
    ("NL", "Netherlands", "The Netherlands", 1, "EUR"), ("BE", "Belgium", "Belgium", 1, "EUR"),
    ("HU", "Hungary", "Hungary", 1, "EUR"), ("CZ", "Czechia", "Czech Republic", 1, "EUR"),
    ("IL", "Israel", "Israel", 2, "USD"), ("MX", "Mexico", "Mexico", -6, "USD"),
    ("AR", "Argentina", "Argentina", -3, "USD"), ("CN", "China", "China", 8, "USD"),
]
CITY = {"US": "BOS", "DE": "BER", "FR": "PAR", "ES": "MAD", "IT": "MIL", "GB": "LON", "PL": "WAW", "CA": "TOR",
        "JP": "TKY", "KR": "SEL", "AU": "SYD", "BR": "SAO", "NL": "AMS", "BE": "BRU", "HU": "BUD", "CZ": "PRG",
        "IL": "TLV", "MX": "MEX", "AR": "BUE", "CN": "SHA"}
# protocol visit code, planned day, CTQ, payable, fee in USD: fortnightly for twelve
# weeks, then every four weeks to a year, as phase III protocols run (a study takes the
# first few to all of them, then end of treatment and follow-up)
VISITS = [("SCR", -21, False, True, 350), ("RND", 1, True, True, 1400), ("W02", 15, False, True, 600),
          ("W04", 29, True, True, 900), ("W06", 43, False, True, 600), ("W08", 57, False, True, 700),
          ("W10", 71, False, True, 600), ("W12", 85, True, True, 900), ("W16", 113, False, True, 700),
          ("W20", 141, False, True, 700), ("W24", 169, True, True, 950), ("W28", 197, False, True, 700),
          ("W32", 225, False, True, 700), ("W36", 253, True, True, 750), ("W40", 281, False, True, 700),
          ("W44", 309, False, True, 700), ("W48", 337, False, True, 700), ("W52", 365, True, True, 1100)]
END_VISITS = [("EOT", None, True, True, 1000), ("FU", None, False, False, 0)]
USD_VALUE = {"USD": 1.0, "EUR": 1.13, "GBP": 1.32, "JPY": 0.0068, "PLN": 0.27, "CAD": 0.72}


@dataclass(slots=True)
class Visit:
    visit_code: str
    visit_date: date
    sdv_date: date | None
    payable_date: date | None
    paid_date: date | None
    held: bool
    fee: float
    currency: str


@dataclass(slots=True)
class Deviation:
    deviation_id: str
    opened: date
    closed: date | None  # None: still open at the portfolio's end date
    severity: str  # IMPORTANT or NOT_IMPORTANT (ICH E3)


@dataclass(slots=True)
class Risk:
    risk_id: str
    opened: date
    closed: date | None
    severity: str  # LOW, MEDIUM, HIGH, CRITICAL
    category: str
    country: "Country | None" = None
    site: "Site | None" = None


@dataclass(slots=True)
class Subject:
    subject_id: str
    screened: date
    randomized: date | None
    screen_failed: date | None
    visits: list[Visit] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)


@dataclass
class Site:
    number: str  # sponsor site number
    code: str  # CRO site code
    country: str
    siv: date
    irb_ok: date
    cta_signed: date
    subjects: list[Subject] = field(default_factory=list)
    selected: date | None = None  # the start-up pack: selected, IRB, contract, systems, then SIV
    systems_ready: date | None = None

    @cached_property
    def first_screened(self) -> date | None:
        return min((subject.screened for subject in self.subjects), default=None)


@dataclass
class Country:
    code: str
    cro_name: str
    offset: int
    currency: str
    approved: date
    ready: date
    planned_sites: int
    planned_subjects: int
    sites: list[Site] = field(default_factory=list)

    @cached_property
    def first_siv(self) -> date:
        return min(site.siv for site in self.sites)

    @cached_property
    def first_screened(self) -> date | None:
        return min((site.first_screened for site in self.sites if site.first_screened), default=None)


@dataclass
class Study:
    index: int
    study_id: str
    cro_id: str
    cro_ref: str
    protocol_version: str
    protocol_final: date
    budget_currency: str
    cro_currency: str
    visits: list[tuple]  # (code, day, ctq, payable, fee)
    countries: list[Country] = field(default_factory=list)
    closed: date | None = None
    risks: list[Risk] = field(default_factory=list)

    @property
    def sites(self) -> list[Site]:
        return [site for country in self.countries for site in country.sites]

    @cached_property
    def first_siv(self) -> date:
        return min(country.first_siv for country in self.countries)

    @cached_property
    def first_screened(self) -> date | None:
        return min((country.first_screened for country in self.countries if country.first_screened), default=None)

    @cached_property
    def visits_per_day(self) -> Counter[tuple[date, str]]:
        """How many visits happened per (day, country code)."""
        return Counter((visit.visit_date, country.code) for country in self.countries for site in country.sites
                       for subject in site.subjects for visit in subject.visits)


def simulate_study(spec, index: int) -> Study:
    """Study number `index` of `spec`'s portfolio, from its own random stream."""
    rng = random.Random(f"{spec.seed}/study/{index}")
    cro_id = spec.cros[index % len(spec.cros)]
    protocol_final = spec.end_date - timedelta(days=rng.randint(45, 1100))
    visit_count = rng.randint(3, len(VISITS) - 2)
    visits = VISITS[:2] + VISITS[2:2 + visit_count] + [
        (code, VISITS[1 + visit_count][1] + 28 * (i + 1), ctq, payable, fee) for i, (code, _, ctq, payable, fee) in enumerate(END_VISITS)
    ]
    study = Study(
        index=index,
        study_id=f"CG-{1001 + index}",
        cro_id=cro_id,
        cro_ref=_cro_study_ref(cro_id, index, spec.seed),
        protocol_version=f"{rng.randint(1, 4)}.0",
        protocol_final=protocol_final,
        budget_currency=("USD", "EUR", "GBP")[index % 3],
        cro_currency="USD" if cro_id == "zenith" else "EUR",
        visits=visits,
    )
    site_total = max(2, round(math.exp(rng.gauss(math.log(64), 1.0)) * spec.sites_scale))
    country_rows = rng.sample(COUNTRIES, k=min(len(COUNTRIES), max(1, min(site_total, rng.randint(3, 12)))))
    shares = _split(site_total, len(country_rows), rng)
    for number, ((code, acme_name, zenith_name, offset, currency), planned) in enumerate(zip(country_rows, shares), start=1):
        study.countries.append(_country(study, rng, number, code, acme_name if cro_id != "zenith" else zenith_name, offset, currency, planned, spec))
    if protocol_final + timedelta(days=900) < spec.end_date:
        study.closed = protocol_final + timedelta(days=900)
    _risks(study, spec)
    return study


# The study operations records (#16) draw from their own random streams, so that adding them
# changed none of the dates drawn before (SIVs, screenings, visits, payments).
RISK_CATEGORIES = ("enrollment", "supply", "data quality", "site performance", "regulatory", "safety reporting")
RISK_SEVERITIES = (("LOW", 4), ("MEDIUM", 4), ("HIGH", 2), ("CRITICAL", 1))
DEVIATION_RATE = 0.03  # deviations per subject visit (published rates: a few per hundred visits)


def _pack(study: Study, site: Site, spec) -> None:
    """The site start-up pack, ending in the SIV already drawn: IRB approval 30-90 days and the
    contract 60-150 days after selection, systems provisioned in the last weeks before the SIV."""
    rng = random.Random(f"{spec.seed}/pack/{study.index}/{site.number}")
    contract_days, irb_days, gap = rng.randint(60, 150), rng.randint(30, 90), rng.randint(14, 45)
    site.selected = site.siv - timedelta(days=contract_days + gap)
    site.irb_ok = site.selected + timedelta(days=irb_days)
    site.cta_signed = site.selected + timedelta(days=contract_days)
    site.systems_ready = max(site.cta_signed, site.siv - timedelta(days=rng.randint(7, 21)))


def _deviations(study: Study, subject: Subject, spec) -> None:
    """Protocol deviations at a few per hundred visits, about one in six important; most
    closed within weeks, some left open for months."""
    rng = random.Random(f"{spec.seed}/deviations/{subject.subject_id}")
    for n, visit in enumerate(subject.visits, start=1):
        if rng.random() >= DEVIATION_RATE:
            continue
        opened = visit.visit_date + timedelta(days=rng.randint(0, 10))
        closed = opened + timedelta(days=rng.randint(3, 45) if rng.random() < 0.9 else rng.randint(60, 150))
        if opened > spec.end_date:
            continue
        subject.deviations.append(Deviation(
            deviation_id=f"DV-{subject.subject_id}-{n:02d}", opened=opened,
            closed=closed if closed <= spec.end_date else None,
            severity="IMPORTANT" if rng.random() < 0.15 else "NOT_IMPORTANT",
        ))


def _risks(study: Study, spec) -> None:
    """A few risks per study in the CRO's register, half of them local to a country or site,
    most closed after weeks to months."""
    rng = random.Random(f"{spec.seed}/risks/{study.index}")
    last = min(spec.end_date, study.closed or spec.end_date)
    span = (last - study.protocol_final).days
    for n in range(1, rng.randint(2, 6) + 1):
        opened = study.protocol_final + timedelta(days=rng.randint(0, max(0, span)))
        closed = opened + timedelta(days=rng.randint(20, 180))
        country = rng.choice(study.countries) if rng.random() < 0.5 else None
        site = rng.choice(country.sites) if country and country.sites and rng.random() < 0.5 else None
        if site and site.selected and opened < site.selected:
            site = None  # the CRO logs a risk at a site only once it is selected
        study.risks.append(Risk(
            risk_id=f"RK-{study.index + 1:04d}-{n:02d}", opened=opened, closed=closed if closed <= spec.end_date else None,
            severity=rng.choices([s for s, _ in RISK_SEVERITIES], [w for _, w in RISK_SEVERITIES])[0],
            category=rng.choice(RISK_CATEGORIES), country=country, site=site,
        ))


def _cro_study_ref(cro_id: str, index: int, seed: int) -> str:
    """The CRO's own study reference: random-looking, but distinct for every study of a
    portfolio (index * 6337 is a bijection modulo 9 000 and 90 000)."""
    if cro_id == "zenith":
        return f"ZN-{10000 + (seed * 7919 + index * 6337) % 90000}"
    return f"{cro_id[:3].upper()}-{1000 + (seed * 7919 + index * 6337) % 9000}"


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    weights = [rng.random() + 0.3 for _ in range(parts)]
    counts = [max(1, round(total * w / sum(weights))) for w in weights]
    return counts


def _country(study: Study, rng, number, code, cro_name, offset, currency, planned_sites, spec) -> Country:
    ready = study.protocol_final + timedelta(days=rng.randint(50, 140))
    country = Country(
        code=code, cro_name=cro_name, offset=offset, currency=currency,
        approved=ready - timedelta(days=rng.randint(5, 20)), ready=ready,
        planned_sites=planned_sites, planned_subjects=0 if number % 7 == 0 else planned_sites * 6,
    )
    for site_index in range(1, planned_sites + 1):
        siv = ready + timedelta(days=rng.randint(30, 110))
        site = Site(
            number=f"{number:02d}{site_index:02d}",
            code=_site_code(study.cro_id, code, number, site_index),
            country=code, siv=siv, irb_ok=siv - timedelta(days=rng.randint(20, 40)),
            cta_signed=siv - timedelta(days=rng.randint(5, 19)),
        )
        _pack(study, site, spec)
        _enrol(study, country, site, rng, spec)
        country.sites.append(site)
    return country


def _site_code(cro_id: str, country: str, country_index: int, site_index: int) -> str:
    if cro_id == "zenith":
        return f"Z{country_index:02d}{site_index:03d}"
    return f"{country}-{CITY[country]}-{site_index:02d}"


def _enrol(study: Study, country: Country, site: Site, rng: random.Random, spec) -> None:
    randomized_target = max(0, round(rng.gauss(6, 2) * spec.subjects_scale))
    screen_failure = rng.uniform(0.2, 0.5)
    screened_count = round(randomized_target / (1 - screen_failure))
    width = 4 if study.cro_id == "zenith" else 3
    for n in range(1, screened_count + 1):
        screened = site.siv + timedelta(days=rng.randint(3, 540))
        if screened > spec.end_date:
            continue
        fails = rng.random() < screen_failure
        randomized = None if fails else screened + timedelta(days=rng.randint(7, 28))
        subject = Subject(
            subject_id=f"{site.code}-{n:0{width}d}", screened=screened,
            randomized=randomized if randomized and randomized <= spec.end_date else None,
            screen_failed=screened + timedelta(days=rng.randint(3, 21)) if fails else None,
        )
        subject.visits = _visits(study, country, subject, rng, spec.end_date)
        _deviations(study, subject, spec)
        site.subjects.append(subject)


def _visits(study: Study, country: Country, subject: Subject, rng: random.Random, end: date) -> list[Visit]:
    visits = []
    for code, day, _ctq, payable, fee in study.visits:
        if code == "SCR":
            when = subject.screened
        elif subject.randomized is None:
            break
        else:
            when = subject.randomized + timedelta(days=day - 1 + rng.randint(-3, 3))
        if when > end:
            break
        sdv = when + timedelta(days=rng.randint(25, 45) if rng.random() < 0.12 else rng.randint(2, 14))
        payable_date = sdv + timedelta(days=rng.randint(1, 7)) if payable else None
        paid = payable_date + timedelta(days=rng.randint(10, 45)) if payable_date else None
        local_fee = round(fee * rng.uniform(0.9, 1.1) / USD_VALUE[country.currency], 2)
        visits.append(Visit(code, when, sdv, payable_date, paid, payable and rng.random() < 0.03, local_fee, country.currency))
    return visits


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, 1)
