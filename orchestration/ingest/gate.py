"""The contract gate of one delivery, between reading it and loading it.

The rows the reader left in `incoming` are validated with the feed's raw suite
(`expectations/raw__<side>__<feed>.json`). Rows failing an error expectation are taken
out of `incoming` and returned with every reason they failed; the rest load.

The suite runs in DuckDB (GX's SQL engine, `orchestration.gates.validate`) on a
temporary table of the delivered text and its typed twins. A large delivery is validated
in parts of at most `PART_ROWS` rows, split by a hash of the key the suite checks for
uniqueness: every row of one key lands in the same part, so uniqueness within each part
is uniqueness within the delivery, and the failing values GX returns stay bounded.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from orchestration.contract import Column, Feed
from orchestration.gates.suites import TYPED_SUFFIX, Suite
from orchestration.gates.validate import PART_ROWS, ROW_ID, ExpectationOutcome, GateResult, combine, validate
from orchestration.ingest.deliveries import Delivery
from orchestration.ingest.reader import INCOMING, MalformedRow, quote_identifier
from orchestration.warehouse import naive_utc, scalar

SHOWN_VALUE_LENGTH = 80


def gate_delivery(
    con: duckdb.DuckDBPyConnection, feed: Feed, delivery: Delivery, suite: Suite, docs_dir: Path, run_name: str
) -> tuple[GateResult, list[MalformedRow]]:
    rows = scalar(con, f"select count(*) from {INCOMING}")
    parts = max(1, -(-rows // PART_ROWS))
    results, held = [], []
    extract_at = naive_utc(delivery.extract_at)
    table = f"gate__{feed.table}"
    for part in range(parts):
        con.execute(f"create or replace temp table {table} as {_frame_sql(feed, parts)}", [extract_at, part])
        name = run_name if parts == 1 else f"{run_name}-part-{part + 1}-of-{parts}"
        result = validate(con, table, suite, name, docs_dir, row_ids=True)
        held += _held_rows(con, table, feed, result, extract_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        results.append(result)
    con.execute(f"drop table if exists {table}")
    if held:
        con.execute(f"delete from {INCOMING} where {ROW_ID} in (select unnest(?))", [[row.row_number for row in held]])
    return combine(results, suite), sorted(held, key=lambda row: row.row_number)


def _frame_sql(feed: Feed, parts: int) -> str:
    """The delivered text (empty as null) and, where a rule compares values, a typed twin."""
    compared = {column.not_before for column in feed.columns if column.not_before}
    delivered = [f"nullif({quote_identifier(name)}, '') as {quote_identifier(name)}" for name in feed.column_names]
    typed = [
        f"{_typed(column, feed)} as {quote_identifier(column.name + TYPED_SUFFIX)}"
        for column in feed.columns
        if column.past or column.min is not None or column.max is not None or column.not_before or column.name in compared
    ]
    columns = ", ".join([ROW_ID, *delivered, "cast(? as timestamp) as _extract_at", *typed])
    key = ", ".join(quote_identifier(name) for name in feed.version_key)
    return f"select {columns} from {INCOMING} where hash({key}) % {parts} = ? order by {ROW_ID}"


def _typed(column: Column, feed: Feed) -> str:
    value = quote_identifier(column.name)
    if column.type == "date":
        return f"cast(try_strptime({value}, '{feed.date_format}') as timestamp)"
    if column.type == "timestamp":
        return f"cast(try_cast({value} as timestamptz) at time zone 'UTC' as timestamp)"
    if column.type == "month":
        return f"try_strptime({value}, '%Y-%m')"
    if column.type in ("integer", "decimal"):
        return f"try_cast({value} as double)"
    raise ValueError(f"{feed.table}.{column.name}: a {column.type} column cannot be compared; fix the contract")


def _held_rows(con, table: str, feed: Feed, result: GateResult, extract_at: str) -> list[MalformedRow]:
    reasons: dict[int, list[ExpectationOutcome]] = {}
    for outcome in result.outcomes:
        if outcome.severity != "error":
            continue
        for number in outcome.row_numbers:
            reasons.setdefault(number, []).append(outcome)
    if not reasons:
        return []
    held = []
    columns = ", ".join(quote_identifier(name) for name in [ROW_ID, *feed.column_names])
    found = con.execute(
        f"select {columns} from {table} where {ROW_ID} in (select unnest(?)) order by {ROW_ID}", [list(reasons)]
    ).fetchall()
    for number, *delivered in found:
        values = {name: _text(value) for name, value in zip(feed.column_names, delivered)}
        shown = {**{name: _shorten(value) for name, value in values.items()}, "_extract_at": extract_at}
        reason = "; ".join(f"{outcome.reason}: {outcome.message.format(**shown)}" for outcome in reasons[number])
        held.append(MalformedRow(number, json.dumps(values, ensure_ascii=False), reason))
    return held


def _text(value) -> str | None:
    return None if value is None else str(value)


def _shorten(value: str | None) -> str | None:
    if value is None or len(value) <= SHOWN_VALUE_LENGTH:
        return value
    return value[: SHOWN_VALUE_LENGTH - 3] + "..."
