"""Expectation suites: the raw ones generated from the feed contract, the conformed and
mart ones written by hand, all kept as GX 1.x JSON under `expectations/`, with the
severity of each expectation decided by `expectations/governance.yml`.

Every expectation carries `meta.reason` (the stable code a quarantined row or a receipt
shows, e.g. `invalid_format`) and `meta.message` (a template filled with the row's
values, e.g. `VisitDate={VisitDate!r} is not a date as DD-MMM-YYYY`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from orchestration.contract import Column, Feed, generator_arguments, load_contract, sync_generated
from orchestration.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
GOVERNANCE_PATH = EXPECTATIONS_DIR / "governance.yml"
SEVERITIES = {"error": "critical", "warn": "warning"}

MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# Formats are calendar-exact (no 31 April, 29 February only in leap years) and ASCII-only
# ([0-9], never \d, which matches any Unicode digit).
YEAR = "[0-9]{4}"
LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
DAY_TO_28, DAY_29_30 = "(?:0[1-9]|1[0-9]|2[0-8])", "(?:29|30)"
ISO_DATE = (
    rf"(?:{YEAR}-(?:(?:0[1-9]|1[0-2])-{DAY_TO_28}|(?:0[13-9]|1[0-2])-{DAY_29_30}|(?:0[13578]|1[02])-31)"
    rf"|{LEAP_YEAR}-02-29)"
)
CRO_DATE = (
    rf"(?:(?:{DAY_TO_28}-(?:{MONTHS})|{DAY_29_30}-(?:Jan|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rf"|31-(?:Jan|Mar|May|Jul|Aug|Oct|Dec))-{YEAR}|29-Feb-{LEAP_YEAR})"
)
HOUR, MINUTE = "(?:[01][0-9]|2[0-3])", "[0-5][0-9]"
FORMATS = {
    ("date", "sponsor"): (rf"^{ISO_DATE}$", "a date as YYYY-MM-DD"),
    ("date", "cro"): (rf"^{CRO_DATE}$", "a date as DD-MMM-YYYY (e.g. 03-Nov-2026)"),
    ("timestamp", None): (
        rf"^{ISO_DATE}T{HOUR}:{MINUTE}(?::{MINUTE}(?:\.[0-9]{{1,9}})?)?(?:Z|[+-]{HOUR}:?{MINUTE})$",
        "an ISO 8601 timestamp with Z or an offset",
    ),
    ("month", None): (rf"^{YEAR}-(?:0[1-9]|1[0-2])$", "a month as YYYY-MM"),
    ("integer", None): (r"^-?[0-9]+$", "a whole number"),
    ("decimal", None): (r"^-?[0-9]+(?:\.[0-9]+)?$", "a decimal number with '.' as separator"),
}
FLAG_VALUES = ("Y", "N")
TYPED_SUFFIX = "__value"  # the typed twin of a delivered text column in the gate's frame


@dataclass(frozen=True)
class Suite:
    """A suite as the gates run it: its GX JSON with the governed severities applied, and
    for a delivery's row rules the governed tolerance before a failure blocks."""

    name: str
    definition: dict
    row_tolerance: float | None = None  # None: any failure of an error expectation blocks
    min_rows_to_block: int = 1

    @property
    def version(self) -> str:
        """Changes whenever any expectation, severity or tolerance changes."""
        governed = {"suite": self.definition, "row_tolerance": self.row_tolerance, "min_rows": self.min_rows_to_block}
        canonical = json.dumps(governed, sort_keys=True).encode()
        return f"{self.definition['meta'].get('contract_version', 'manual')}+{hashlib.sha256(canonical).hexdigest()[:12]}"

    def blocks(self, unexpected_rows: int, rows: int) -> bool:
        """Whether this many failing rows, of `rows`, make an error expectation block."""
        if self.row_tolerance is None:
            return unexpected_rows > 0
        return unexpected_rows >= self.min_rows_to_block and unexpected_rows > self.row_tolerance * rows

    @property
    def expectations(self) -> list[dict]:
        return self.definition["expectations"]


# The raw suites, from the contract -------------------------------------------------------


def raw_suite_name(feed: Feed) -> str:
    return f"raw__{feed.table}"


def raw_suite(feed: Feed) -> dict:
    expectations = []
    for column in feed.columns:
        expectations += _column_expectations(feed, column)
    expectations.append(_unique_key(feed))
    return {
        "name": raw_suite_name(feed),
        "expectations": expectations,
        "meta": {
            "contract_version": load_contract().version,
            "gate": "raw",
            "feed": feed.table,
            "generated_by": "cg-suites (from orchestration/feed_contract.yaml); do not edit by hand",
        },
        "notes": (
            f"Every row of a {feed.side} `{feed.name}` delivery. Rows failing an error expectation are "
            "quarantined; the gate fails when more of a delivery's rows fail one than the governed row tolerance."
        ),
    }


def _column_expectations(feed: Feed, column: Column) -> list[dict]:
    name = column.name
    found = []
    if column.required:
        found.append(_expectation("expect_column_values_to_not_be_null", {"column": name},
                                  "missing_value", f"{name} is empty but required"))
    if column.type in ("enum", "flag"):
        allowed = list(column.values) if column.type == "enum" else list(FLAG_VALUES)
        found.append(_expectation("expect_column_values_to_be_in_set", {"column": name, "value_set": allowed},
                                  "unknown_code", f"{name}={{{name}!r}} is not one of {', '.join(allowed)}"))
    regex_and_words = FORMATS.get((column.type, feed.side)) or FORMATS.get((column.type, None))
    if regex_and_words:
        regex, words = regex_and_words
        found.append(_expectation("expect_column_values_to_match_regex", {"column": name, "regex": regex},
                                  "invalid_format", f"{name}={{{name}!r}} is not {words}"))
    typed = name + TYPED_SUFFIX
    if column.past:
        found.append(_expectation(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "_extract_at", "column_B": typed, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
            "future_date", f"{name}={{{name}!r}} is after the delivery's extract time {{_extract_at}}",
        ))
    if column.min is not None:
        found.append(_expectation("expect_column_values_to_be_between", {"column": typed, "min_value": column.min},
                                  "negative_value", f"{name}={{{name}!r}} is below {column.min:g}"))
    if column.max is not None:
        found.append(_expectation(
            "expect_column_values_to_be_between", {"column": typed, "max_value": column.max}, "out_of_range",
            f"{name}={{{name}!r}} is above {column.max:.15g}; check the amount and its unit, and resend the row",
        ))
    if column.not_before:
        other = column.not_before
        found.append(_expectation(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": typed, "column_B": other + TYPED_SUFFIX, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
            "out_of_order", f"{name}={{{name}!r}} is before {other}={{{other}!r}}",
        ))
    return found


def _unique_key(feed: Feed) -> dict:
    """The key (with the version column of an incremental feed, which may carry several
    versions of one key) is unique within a delivery once exact repeats are set aside."""
    key = feed.version_key
    values = ", ".join(f"{{{name}!r}}" for name in key)
    message = f"key ({', '.join(key)})=({values}) occurs more than once in this delivery, with different values"
    if len(key) == 1:
        return _expectation("expect_column_values_to_be_unique", {"column": key[0]}, "duplicate_key", message)
    return _expectation("expect_compound_columns_to_be_unique", {"column_list": key}, "duplicate_key", message)


def _expectation(kind: str, kwargs: dict, reason: str, message: str) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"reason": reason, "message": message}}


# Loading, with governed severity -----------------------------------------------------------


@cache
def governance(path: Path = GOVERNANCE_PATH) -> dict:
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    for rule in settings.get("rules", []):
        if rule["severity"] not in SEVERITIES:
            raise ValueError(f"{path}: severity {rule['severity']!r} must be one of {', '.join(SEVERITIES)}")
    return settings


def severity_for(suite_name: str, reason: str, settings: dict) -> str:
    """The last matching rule wins; without one, the default."""
    chosen = settings["default"]
    for rule in settings.get("rules", []):
        if fnmatch.fnmatch(suite_name, rule.get("suite", "*")) and fnmatch.fnmatch(reason, rule.get("reason", "*")):
            chosen = rule["severity"]
    return chosen


def load_suite(name: str, directory: Path | None = None) -> Suite:
    path = (directory or EXPECTATIONS_DIR) / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no expectation suite {path}; run `cg-suites --write` for raw suites")
    definition = json.loads(path.read_text(encoding="utf-8"))
    settings = governance()
    for expectation in definition["expectations"]:
        expectation["severity"] = SEVERITIES[severity_for(name, expectation["meta"]["reason"], settings)]
    if definition["meta"].get("gate") != "raw":
        return Suite(name=name, definition=definition)
    return Suite(name, definition, float(settings["row_tolerance"]), int(settings["min_rows_to_block"]))


def expected_raw_suites() -> dict[Path, str]:
    return {
        EXPECTATIONS_DIR / f"{raw_suite_name(feed)}.json": json.dumps(raw_suite(feed), indent=2) + "\n"
        for feed in load_contract().feeds
    }


def main(argv: list[str] | None = None) -> int:
    parser = generator_arguments("cg-suites", "Generate the raw expectation suites (expectations/raw__*.json) from the feed contract.")
    return sync_generated(expected_raw_suites(), parser.parse_args(argv).check, "cg-suites")


if __name__ == "__main__":
    raise SystemExit(main())
