"""Traffic lights of the portfolio: one rule per signal, green / amber / red.

The thresholds are leadership's reading of each KPI, kept here in one table so that the
dashboard, its README section and its tests say the same thing."""

from __future__ import annotations

import math
from dataclasses import dataclass

GREEN, AMBER, RED, NONE = "🟢", "🟡", "🔴", "⚪"


@dataclass(frozen=True)
class Rule:
    """`value` at or above `green` is green, at or above `amber` amber, else red; with
    `higher_is_better=False` the other way round (at or below)."""

    green: float
    amber: float
    higher_is_better: bool = True

    def light(self, value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return NONE
        if self.higher_is_better:
            return GREEN if value >= self.green else AMBER if value >= self.amber else RED
        return GREEN if value <= self.green else AMBER if value <= self.amber else RED


RULES = {
    "startup": Rule(green=0.8, amber=0.5),  # share of planned sites ready
    "enrollment": Rule(green=0.9, amber=0.7),  # randomized / planned, latest month
    "sdv": Rule(green=0.9, amber=0.7),  # CTQ visits verified within the SLA / due
    "burn_gap": Rule(green=0.10, amber=0.25, higher_is_better=False),  # |burn - planned burn|
    "payments_overdue": Rule(green=0, amber=0, higher_is_better=False),  # amount unpaid over 30 days
    "important_deviations": Rule(green=0, amber=2, higher_is_better=False),  # open important deviations
    "high_risks": Rule(green=0, amber=1, higher_is_better=False),  # open HIGH or CRITICAL risks
    "quality": Rule(green=0.99, amber=0.95),  # worst sender's share of rows accepted
    "disagreements": Rule(green=0, amber=3, higher_is_better=False),  # milestones not MATCH
}


def light(signal: str, value) -> str:
    return RULES[signal].light(value)
