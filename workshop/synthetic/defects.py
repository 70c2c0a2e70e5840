"""The realities of the feed contract, injected into one study's deliveries at the defect
rate: unknown codes, malformed values, duplicates, late and out-of-order events,
corrections, voids and disagreements between the parties. Each study draws them from its
own random stream, so they do not depend on which process renders it."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta

from orchestration.contract import load_contract
from workshop.synthetic.feeds import Row, csv_field, event_line, numbered_ids, stamp
from workshop.synthetic.world import Study


def _columns(feed_name: str) -> dict[str, int]:
    return {name: index for index, name in enumerate(load_contract().feed("cro", feed_name).header_columns)}


VISIT = _columns("visits")
PAYMENT = _columns("site_payments")
MISSPELT_COUNTRIES = ["Untied States", "Germnay", "Frnace"]


class Defects:
    def __init__(self, rate: float, rng: random.Random):
        self.rate = rate
        self.rng = rng
        self.counts: Counter[str] = Counter()

    def inject(self, kind: str, weight: float = 1.0) -> bool:
        if self.rate and self.rng.random() < self.rate * weight:
            self.counts[kind] += 1
            return True
        return False

    def recording_delay_days(self, kind: str) -> int:
        """Days after the fact that the CRO records an event (0: the same working day):
        some randomizations are recorded weeks late, and so delivered out of order."""
        if kind == "SUBJ_RANDOMIZED" and self.inject("late_randomization", 20):
            return self.rng.randint(10, 40)
        return 0

    def corrected_and_voided_events(self, study: Study) -> list[tuple[int, str]]:
        """(epoch recorded, event) of corrections and voids: an SIV first recorded with a
        wrong date and corrected by a later event naming it in `supersedes`; a screening
        recorded twice and the extra one voided."""
        events = []
        ids = numbered_ids("FIX-EV", study)
        for country in study.countries:
            for site in country.sites:
                if self.inject("correction"):
                    wrong_day = site.siv + timedelta(days=self.rng.randint(2, 6))
                    wrong, wrong_recorded = stamp(wrong_day, country.offset, 10), stamp(wrong_day, country.offset, 18)
                    fixed = stamp(wrong_day + timedelta(days=self.rng.randint(3, 9)), country.offset, 10)
                    wrong_id, fix_id = next(ids), next(ids)
                    at_siv = stamp(site.siv, country.offset, 10).local
                    events += [
                        (wrong_recorded.epoch, event_line(wrong_id, "SITE_SIV", study.cro_ref, country.cro_name, site.code, None,
                                                          wrong.local, wrong_recorded.local)),
                        (fixed.epoch, event_line(fix_id, "SITE_SIV", study.cro_ref, country.cro_name, site.code, None,
                                                 at_siv, fixed.local, supersedes=wrong_id)),
                    ]
                for subject in site.subjects:
                    if self.inject("void"):
                        extra, extra_recorded = stamp(subject.screened, country.offset, 11), stamp(subject.screened, country.offset, 19)
                        voided = stamp(subject.screened + timedelta(days=self.rng.randint(1, 5)), country.offset, 11)
                        extra_id, void_id = next(ids), next(ids)
                        events += [
                            (extra_recorded.epoch, event_line(extra_id, "SUBJ_SCREENED", study.cro_ref, country.cro_name, site.code,
                                                              subject.subject_id, extra.local, extra_recorded.local)),
                            (voided.epoch, event_line(void_id, "VOID", study.cro_ref, country.cro_name, site.code,
                                                      subject.subject_id, voided.local, voided.local, supersedes=extra_id)),
                        ]
        return events

    def sponsor_actual_date(self, actual: date) -> str:
        """A milestone's actual date as the sponsor has it: sometimes off by some days
        from the CRO's, or not entered yet."""
        if not self.inject("milestone_disagreement", 5):
            return actual.isoformat()
        if self.rng.random() < 0.7:
            return (actual + timedelta(days=self.rng.choice([-5, -2, -1, 1, 3, 7]))).isoformat()
        return ""

    def cro_country_name(self, name: str) -> str:
        return self.rng.choice(MISSPELT_COUNTRIES) if self.inject("unknown_country_name") else name

    def delivered_rows(self, feed_name: str, rows: list[Row]) -> list[Row]:
        """One delivery's rows as sent: with malformed values, conflicting and duplicate
        rows; events out of order."""
        if not self.rate:
            return rows
        if feed_name == "events":
            self.rng.shuffle(rows)
            return rows
        spoil = {"visits": self._spoil_visit, "site_payments": self._spoil_payment}.get(feed_name, lambda row: [row])
        delivered = []
        for row in rows:
            row, *extra = spoil(row)
            delivered += [row, *extra]
            if self.inject("duplicate_row"):
                delivered.append(row)
        return delivered

    def _spoil_visit(self, row: tuple[str, ...]) -> list[tuple[str, ...]]:
        """The row as sent, then any extra rows: an unknown visit code, a conflicting
        version of the same key."""
        extra = []
        if self.inject("unknown_visit_code"):
            extra.append(_replaced(row, VISIT["VisitCode"], "V99" if row[VISIT["VisitCode"]].startswith("V") else "UNSCHED"))
        if self.inject("bad_date_format"):
            visit_date = datetime.strptime(row[VISIT["VisitDate"]], "%d-%b-%Y").strftime("%d/%m/%Y")
            row = _replaced(row, VISIT["VisitDate"], visit_date)
        if self.inject("duplicate_key_conflict"):
            extra.append(_replaced(row, VISIT["SdvDate"], ""))
        return [row, *extra]

    def _spoil_payment(self, row: tuple[str, ...]) -> list[tuple[str, ...]]:
        if self.inject("bad_amount"):
            row = _replaced(row, PAYMENT["Amount"], csv_field(row[PAYMENT["Amount"]].replace(".", ",")))
        return [row]


def _replaced(row: tuple[str, ...], index: int, value: str) -> tuple[str, ...]:
    return (*row[:index], value, *row[index + 1:])
