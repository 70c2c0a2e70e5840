"""The parties' views of the simulated truth, feed by feed.

Snapshot feeds are a function of the extract time (the state then). Incremental feeds
are row versions, each with the moment it became known (`available`): a delivery carries
the versions that became known since the previous extract; the first delivery is the
initial load, with the state as it stood.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from orchestration.synthetic.world import USD_VALUE, Country, Site, Study, add_months, month_start

CRO_OFFSET = timezone(timedelta(hours=1))
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
CLOSE_OUT = (("DB_LOCK", 0), ("TMF_RECON", 30), ("FIN_RECON", 45))
ACME_VISIT_CODES = {"SCR": "SCRN", "RND": "RAND", "W02": "W2", "W04": "W4", "W08": "W8", "EOT": "EOT", "FU": "FUP"}
ZENITH_VISIT_ORDER = ["SCR", "RND", "W02", "W04", "W08", "W12", "W16", "W24", "W36", "W52", "EOT", "FU"]


@dataclass(frozen=True)
class Version:
    available: datetime
    key: tuple
    row: dict


def cro_visit_code(cro_id: str, protocol_code: str) -> str:
    if cro_id == "zenith":
        return f"V{ZENITH_VISIT_ORDER.index(protocol_code) + 1:02d}"
    return ACME_VISIT_CODES.get(protocol_code, protocol_code)


def rate_code(cro_id: str, purpose: str, country: str | None = None) -> str:
    """The CRO's rate code for a purpose (its own scheme), exceptions included."""
    codes = {"acme": {"grant": "A-GRANT-VIS", "monitor": "A-MON-OSV", "remote": "A-MON-RMV", "pm": "A-PM-MTH",
                      "dm": "A-DM-MTH", "site": "A-SSU-SITE", "country": "A-REG-CTRY", "travel": "A-PT-TRAVEL"},
             "zenith": {"grant": "Z-100", "monitor": "Z-200", "remote": "Z-210", "pm": "Z-300", "dm": "Z-400",
                        "site": "Z-500", "country": "Z-510", "travel": "Z-900"}}[cro_id if cro_id == "zenith" else "acme"]
    if cro_id != "zenith" and purpose == "monitor" and country == "PL":
        return "A-MON-OSV-PL"
    if cro_id != "zenith" and purpose == "grant" and country == "JP":
        return "A-GRANT-VIS-JP"
    if cro_id == "zenith" and purpose == "monitor" and country == "DE":
        return "Z-200-DE"
    return _own_code(cro_id, codes[purpose])


def local_moment(day: date, offset_hours: int, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone(timedelta(hours=offset_hours)))


def iso(moment: datetime) -> str:
    return moment.isoformat()


def sponsor_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cro_date(day: date | None) -> str:
    return f"{day.day:02d}-{day.strftime('%b')}-{day.year}" if day else ""


def money(amount: float) -> str:
    return f"{amount:.2f}"


# Sponsor snapshots -----------------------------------------------------------------------


def sponsor_studies(studies: list[Study], extract: datetime) -> list[dict]:
    return [
        {"study_id": s.study_id, "protocol_version": s.protocol_version, "protocol_final_date": s.protocol_final.isoformat(),
         "phase": "3", "therapeutic_area": ("Oncology", "Cardiology", "Neurology", "Respiratory", "Immunology")[int(s.study_id[-1]) % 5],
         "cro_id": s.cro_id, "planned_countries": str(len(s.countries)),
         "planned_sites": str(sum(c.planned_sites for c in s.countries)),
         "planned_subjects": str(sum(c.planned_subjects for c in s.countries)),
         "budget_currency": s.budget_currency, "status": _study_status(s, extract.date())}
        for s in studies if _listed(s, extract)
    ]


def _listed(study: Study, extract: datetime) -> bool:
    return study.protocol_final - timedelta(days=30) <= extract.date()


def _study_status(study: Study, today: date) -> str:
    if study.closed and study.closed <= today:
        return "CLOSED"
    first_siv = min((site.siv for c in study.countries for site in c.sites), default=None)
    return "ACTIVE" if first_siv and first_siv <= today else "PLANNED"


def country_plan(studies: list[Study], extract: datetime, seed: int) -> list[dict]:
    rows = []
    for study in filter(lambda s: _listed(s, extract), studies):
        for country in study.countries:
            jitter = random.Random(f"{seed}/{study.study_id}/{country.code}")
            first_siv = min(site.siv for site in country.sites)
            first_screened = _first_screened(country.sites)
            rows.append({
                "study_id": study.study_id, "country": country.code, "planned_sites": str(country.planned_sites),
                "planned_subjects": str(country.planned_subjects),
                "planned_country_ready": (country.ready + timedelta(days=jitter.randint(-20, 10))).isoformat(),
                "planned_first_site_ready": (first_siv + timedelta(days=jitter.randint(-25, 10))).isoformat(),
                "planned_fpi": ((first_screened or first_siv + timedelta(days=30)) + timedelta(days=jitter.randint(-25, 10))).isoformat(),
            })
    return rows


def _first_screened(sites: list[Site]) -> date | None:
    return min((subject.screened for site in sites for subject in site.subjects), default=None)


def enrollment_plan(studies: list[Study], extract: datetime) -> list[dict]:
    rows = []
    for study in filter(lambda s: _listed(s, extract), studies):
        for country in study.countries:
            start = month_start(min(site.siv for site in country.sites) + timedelta(days=20))
            for offset in range(18):
                cumulative = round(country.planned_subjects * (offset + 1) / 18)
                rows.append({"study_id": study.study_id, "country": country.code,
                             "month": add_months(start, offset).strftime("%Y-%m"), "planned_randomized_cum": str(cumulative)})
    return rows


def visit_schedule(studies: list[Study], extract: datetime) -> list[dict]:
    return [
        {"study_id": s.study_id, "protocol_version": s.protocol_version, "visit_code": code, "visit_name": _visit_name(code),
         "planned_day": str(day), "ctq": "Y" if ctq else "N", "payable": "Y" if payable else "N",
         "site_fee": money(fee / USD_VALUE[s.budget_currency]), "fee_currency": s.budget_currency}
        for s in studies if _listed(s, extract) for code, day, ctq, payable, fee in s.visits
    ]


def _visit_name(code: str) -> str:
    names = {"SCR": "Screening", "RND": "Randomisation", "EOT": "End of treatment", "FU": "Follow-up"}
    return names[code] if code in names else f"Week {int(code[1:])}"


def milestones(studies: list[Study], extract: datetime, known) -> list[dict]:
    """The sponsor's milestone records; an actual date appears once the CRO has reported
    it (`known(moment)`), as in real life the sponsor learns it from the CRO."""
    rows = []
    for study in filter(lambda s: _listed(s, extract), studies):
        rows.append(_milestone(study, "", "", "PROT_FINAL", study.protocol_final, study.protocol_final,
                               datetime.combine(study.protocol_final, time(16), timezone.utc)))
        for country in study.countries:
            offset = country.offset
            rows.append(_milestone_if_known(study, country.code, "", "CTRY_READY", country.ready, local_moment(country.ready, offset), extract, known))
            for site in country.sites:
                rows.append(_milestone_if_known(study, country.code, site.number, "SITE_READY", site.siv, local_moment(site.siv, offset), extract, known))
                first = min((s.screened for s in site.subjects), default=None)
                if first:
                    rows.append(_milestone_if_known(study, country.code, site.number, "FPI", first, local_moment(first, offset, 9), extract, known))
            first = _first_screened(country.sites)
            if first:
                rows.append(_milestone_if_known(study, country.code, "", "FPI", first, local_moment(first, offset, 9), extract, known))
        first = min((_first_screened(c.sites) for c in study.countries if _first_screened(c.sites)), default=None)
        if first:
            rows.append(_milestone_if_known(study, "", "", "FPI", first, datetime.combine(first, time(9), timezone.utc), extract, known))
        if study.closed and study.closed <= extract.date():
            for code, days in CLOSE_OUT:
                when = study.closed + timedelta(days=days)
                rows.append(_milestone_if_known(study, "", "", code, when, datetime.combine(when, time(12), CRO_OFFSET), extract, known))
    return rows


def _milestone_if_known(study, country, site, code, actual: date, happened: datetime, extract, known) -> dict:
    reported = known(study, code, country, site, happened)
    return _milestone(study, country, site, code, actual if reported <= extract else None, actual, reported if reported <= extract else None)


def _milestone(study, country, site, code, actual: date | None, planned: date, updated: datetime | None) -> dict:
    return {"study_id": study.study_id, "country": country, "site_number": site, "milestone": code,
            "planned_date": planned.isoformat(), "actual_date": actual.isoformat() if actual else "",
            "updated_at": sponsor_iso(updated) if updated else sponsor_iso(datetime.combine(study.protocol_final, time(16), timezone.utc))}


# CRO snapshots -----------------------------------------------------------------------------


def cro_studies(studies: list[Study], cro_id: str, extract: datetime) -> list[dict]:
    return [{"CroStudyRef": s.cro_ref, "SponsorStudyId": s.study_id, "ProtocolVersion": s.protocol_version}
            for s in studies if s.cro_id == cro_id and _listed(s, extract)]


def cro_sites(studies: list[Study], cro_id: str, extract: datetime) -> list[dict]:
    today = extract.date()
    rows = []
    for study in studies:
        if study.cro_id != cro_id or not _listed(study, extract):
            continue
        for country in study.countries:
            for site in country.sites:
                if site.cta_signed - timedelta(days=60) > today:
                    continue
                rows.append({"CroStudyRef": study.cro_ref, "SiteCode": site.code, "SponsorSiteNo": site.number,
                             "Country": country.cro_name, "Status": _site_status(study, site, today)})
    return rows


def _site_status(study: Study, site: Site, today: date) -> str:
    if study.closed and study.closed <= today:
        return "Closed"
    if any(s.screened <= today for s in site.subjects):
        return "Enrolling"
    return "Activated" if site.siv <= today else "Selected"


def rate_card(cro_id: str) -> list[dict]:
    currency = "USD" if cro_id == "zenith" else "EUR"
    return [{"RateCode": _own_code(cro_id, code),
             "Description": description, "Unit": unit, "UnitPrice": money(price), "Currency": currency,
             "ValidFrom": "01-Jan-2020", "ValidTo": "", "ExceptionRef": exception or ""}
            for code, description, unit, price, exception, _ in RATE_CARDS["zenith" if cro_id == "zenith" else "acme"]]


def _own_code(cro_id: str, acme_code: str) -> str:
    """Other acme-style CROs use acme's scheme under their own initial."""
    return acme_code if cro_id in ("acme", "zenith") else acme_code.replace("A-", f"{cro_id[:1].upper()}-", 1)


# Incremental versions ---------------------------------------------------------------------


def event_versions(studies: list[Study], cro_id: str, recorded_delay) -> list[Version]:
    """Every event the CRO records, as it was recorded: `recorded_delay(kind)` says how
    long after the fact."""
    versions = []
    counter = iter(range(1, 10**9))
    prefix = "ZEV" if cro_id == "zenith" else f"{cro_id[:3].upper()}-EV"

    def event(kind, study, country: Country | None, site=None, subject=None, day=None, hour=10):
        happened = local_moment(day, country.offset, hour) if country else datetime.combine(day, time(hour), CRO_OFFSET)
        recorded = happened + recorded_delay(kind)
        row = {"event_id": f"{prefix}-{next(counter):07d}", "type": kind, "study": study.cro_ref,
               "country": country.cro_name if country else None,
               "site": site.code if site else None, "subject": subject, "at": iso(happened), "recorded_at": iso(recorded),
               "supersedes": None}
        versions.append(Version(recorded, (row["event_id"],), row))
        return row

    for study in (s for s in studies if s.cro_id == cro_id):
        for country in study.countries:
            event("CTRY_APPROVED", study, country, day=country.approved)
            event("CTRY_READY", study, country, day=country.ready)
            for site in country.sites:
                event("SITE_IRB_OK", study, country, site, day=site.irb_ok)
                event("SITE_CTA_SIGNED", study, country, site, day=site.cta_signed)
                event("SITE_SIV", study, country, site, day=site.siv)
                for subject in site.subjects:
                    event("SUBJ_SCREENED", study, country, site, subject.subject_id, subject.screened, hour=9)
                    if subject.randomized:
                        event("SUBJ_RANDOMIZED", study, country, site, subject.subject_id, subject.randomized)
                    if subject.screen_failed:
                        event("SUBJ_SCREEN_FAIL", study, country, site, subject.subject_id, subject.screen_failed)
        for kind, days in CLOSE_OUT if study.closed else ():
            event(kind, study, None, day=study.closed + timedelta(days=days), hour=12)
    return versions


def visit_versions(studies: list[Study], cro_id: str) -> list[Version]:
    versions = []
    for study, country, site, subject, visit in _visits_of(studies, cro_id):
        code = cro_visit_code(cro_id, visit.visit_code)
        key = (study.cro_ref, site.code, subject.subject_id, code)
        base = {"CroStudyRef": study.cro_ref, "SiteCode": site.code, "SubjectId": subject.subject_id, "VisitCode": code,
                "VisitDate": cro_date(visit.visit_date)}
        states = [(visit.visit_date, None, "NE"), (visit.sdv_date, visit.sdv_date, "EL")]
        if visit.payable_date:
            states.append((visit.payable_date, visit.sdv_date, "HD" if visit.held else "PY"))
            if not visit.held:
                states.append((visit.paid_date, visit.sdv_date, "PD"))
        for day, sdv, state in states:
            moment = local_moment(day, country.offset, 17)
            versions.append(Version(moment, key, {**base, "SdvDate": cro_date(sdv), "FinanceState": state, "UpdatedAt": iso(moment)}))
    return versions


def payment_versions(studies: list[Study], cro_id: str) -> list[Version]:
    versions = []
    number = iter(range(1, 10**9))
    prefix = "ZP" if cro_id == "zenith" else f"{cro_id[:3].upper()}-PAY"
    for study, country, site, subject, visit in _visits_of(studies, cro_id):
        if not visit.payable_date:
            continue
        payment_id = f"{prefix}-{next(number):07d}"
        base = {"PaymentId": payment_id, "CroStudyRef": study.cro_ref, "SiteCode": site.code, "SubjectId": subject.subject_id,
                "VisitCode": cro_visit_code(cro_id, visit.visit_code), "Amount": money(visit.fee), "Currency": visit.currency,
                "PayableDate": cro_date(visit.payable_date)}
        payable = local_moment(visit.payable_date, country.offset, 12)
        versions.append(Version(payable, (payment_id,), {**base, "PaidDate": "", "Status": "HELD" if visit.held else "PAYABLE", "UpdatedAt": iso(payable)}))
        if not visit.held:
            paid = local_moment(visit.paid_date, country.offset, 12)
            versions.append(Version(paid, (payment_id,), {**base, "PaidDate": cro_date(visit.paid_date), "Status": "PAID", "UpdatedAt": iso(paid)}))
    return versions


def _visits_of(studies, cro_id):
    for study in studies:
        if study.cro_id != cro_id:
            continue
        for country in study.countries:
            for site in country.sites:
                for subject in site.subjects:
                    for visit in subject.visits:
                        yield study, country, site, subject, visit


def monthly_costs(study: Study, until: date) -> dict[tuple[date, str, str | None], float]:
    """Units per (month, purpose, country) of what the CRO bills, from the truth."""
    units: dict[tuple[date, str, str | None], float] = {}

    def add(day: date, purpose: str, amount: float, country: str | None = None):
        if day < until:
            units[(month_start(day), purpose, country)] = units.get((month_start(day), purpose, country), 0) + amount

    end = min(until, study.closed or until)
    month = month_start(study.protocol_final)
    while month < month_start(end):
        add(month, "pm", 1)
        month = add_months(month, 1)
    for country in study.countries:
        add(country.approved, "country", 1)
        for site in country.sites:
            add(site.siv, "site", 1)
            for subject in site.subjects:
                for visit in subject.visits:
                    if visit.visit_date < until:
                        add(visit.visit_date, "grant", 1, country.code)
                        add(visit.visit_date, "monitor", 0.25, country.code)
                        add(visit.visit_date, "remote", 0.25)
                        add(visit.visit_date, "travel", 85.0)
            first = _first_screened(country.sites)
            if first:
                add(first, "dm", 0)
    first_screened = min((_first_screened(c.sites) for c in study.countries if _first_screened(c.sites)), default=None)
    if first_screened:
        month = month_start(first_screened)
        while month < month_start(end):
            add(month, "dm", 1)
            month = add_months(month, 1)
    return units
