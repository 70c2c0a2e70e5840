"""One contract-driven reader for every feed.

`parse_delivery_into(con, feed, delivery)` leaves the delivery's well-formed rows in a
temporary table (`incoming`: the contract's columns as text, plus `_row_number`) and
returns the rows it could not read with a reason. A delivery that breaks the contract as
a whole raises `DeliveryRejected`.

Rows are read by DuckDB (fast, no Python per row). When DuckDB reports any structural
problem, the file is read again by Python's csv module, which pins every problem to its
record number; broken files are rare and small, so the slow path costs nothing in bulk.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from orchestration.contract import Feed
from orchestration.ingest.deliveries import Delivery
from orchestration.warehouse import scalar

INCOMING = "incoming"
MAX_LINE_BYTES = 4 * 1024 * 1024  # DuckDB's and Python's limit alike, so both read the same files
LINE_END = re.compile(rb"\r\n|\r|\n")
csv.field_size_limit(MAX_LINE_BYTES)  # Python's default, 128 KiB, is below a line DuckDB accepts


class DeliveryRejected(Exception):
    """The delivery as a whole breaks the contract; `reason` starts with a stable code."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MalformedRow:
    row_number: int
    raw_values: str  # what the file held, as text
    reason: str


@dataclass
class ParsedDelivery:
    rows: int
    malformed: list[MalformedRow] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


def parse_delivery_into(con: duckdb.DuckDBPyConnection, feed: Feed, delivery: Delivery) -> ParsedDelivery:
    if delivery.size_bytes == 0:
        raise DeliveryRejected("empty_file: the file has no bytes; resend it with its header and rows")
    con.execute(f"drop table if exists {INCOMING}")
    reader = _parse_csv if feed.format == "csv" else _parse_jsonl
    parsed = reader(con, feed, delivery)
    if parsed.rows == 0 and not parsed.malformed and feed.kind == "snapshot":
        raise DeliveryRejected(
            "empty_snapshot: a snapshot carries the full current state, and one without rows "
            "would erase it; resend the full extract"
        )
    return parsed


# CSV ------------------------------------------------------------------------------------


def _parse_csv(con, feed: Feed, delivery: Delivery) -> ParsedDelivery:
    header = _read_header(delivery)
    extra = _check_header(feed, header)
    try:
        rows = _load_csv_with_duckdb(con, feed, delivery, header)
    except duckdb.Error:
        rows = None
    if rows is None:
        return _load_csv_with_python(con, feed, delivery, header, extra)
    return ParsedDelivery(rows=rows, extra_columns=extra)


def _read_header(delivery: Delivery) -> list[str]:
    """The first line, whichever line ending the file uses (CR only, from old Mac exports)."""
    with delivery.content_path.open("rb") as handle:
        first_line = LINE_END.split(handle.read(MAX_LINE_BYTES), maxsplit=1)[0]
    try:
        text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DeliveryRejected(_not_utf8_reason(error, line=1)) from None
    if not text.strip():
        raise DeliveryRejected("missing_header: the first line is empty; the contract requires a header row")
    return next(csv.reader([text]))


def _check_header(feed: Feed, header: list[str]) -> list[str]:
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DeliveryRejected(f"duplicate_columns: {', '.join(duplicated)} appear more than once in the header")
    missing = [name for name in feed.header_columns if name not in header]
    extra = [name for name in header if name not in feed.column_names]
    if missing:
        hint = f"; unexpected columns {', '.join(extra)} (renamed?)" if extra else ""
        raise DeliveryRejected(f"missing_columns: {', '.join(missing)}{hint}")
    return extra


def _select_contract_columns(feed: Feed, present: list[str]) -> str:
    columns = [
        quote_identifier(name) if name in present else f"cast(null as varchar) as {quote_identifier(name)}"
        for name in feed.column_names
    ]
    return ", ".join(columns)


def _load_csv_with_duckdb(con, feed: Feed, delivery: Delivery, header: list[str]) -> int | None:
    """Rows loaded, or None when DuckDB saw structural problems (then Python reads it)."""
    columns = "{" + ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in header) + "}"
    con.execute(
        f"""
        create temp table {INCOMING} as
        select {_select_contract_columns(feed, header)}, row_number() over () as _row_number
        from read_csv(?, header = true, auto_detect = false, delim = ',', quote = '"',
                      escape = '"', columns = {columns}, store_rejects = true,
                      rejects_table = 'incoming_rejects', rejects_scan = 'incoming_reject_scans',
                      max_line_size = {MAX_LINE_BYTES})
        """,
        [str(delivery.content_path)],
    )
    rejected = scalar(con, "select count(*) from incoming_rejects")
    con.execute("drop table if exists incoming_rejects; drop table if exists incoming_reject_scans")
    if rejected:
        con.execute(f"drop table {INCOMING}")
        return None
    return scalar(con, f"select count(*) from {INCOMING}")


def _load_csv_with_python(con, feed: Feed, delivery: Delivery, header: list[str], extra: list[str]) -> ParsedDelivery:
    text = _decode(delivery)
    rows = csv_records(text)[1:]  # after the header, already checked
    good, malformed = [], []
    ends_with_newline = text.endswith(("\n", "\r"))
    for number, fields in enumerate(rows, start=1):
        reason = _record_problem(fields, len(header), is_last=number == len(rows), ends_with_newline=ends_with_newline)
        if reason:
            malformed.append(MalformedRow(number, _as_csv_line(fields), reason))
        else:
            good.append([*fields, number])
    frame = pd.DataFrame(good, columns=[*header, "_row_number"], dtype=object)
    con.register("incoming_frame", frame)
    con.execute(
        f"create temp table {INCOMING} as select {_select_contract_columns(feed, header)}, "
        f"cast(_row_number as bigint) as _row_number from incoming_frame"
    )
    con.unregister("incoming_frame")
    return ParsedDelivery(rows=len(good), malformed=malformed, extra_columns=extra)


def csv_records(text: str) -> list[list[str]]:
    """Every record of a CSV text (a quoted field may span lines)."""
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise DeliveryRejected(
            f"unreadable_csv: {error}; a field may hold at most {MAX_LINE_BYTES // (1024 * 1024)} MiB, "
            "and quotes must be closed; fix the export and resend"
        ) from None


def _record_problem(fields: list[str], expected: int, *, is_last: bool, ends_with_newline: bool) -> str | None:
    if any("\x00" in value for value in fields):
        return "nul_byte: the row contains a NUL byte"
    if len(fields) == expected:
        return None
    if is_last and not ends_with_newline and len(fields) < expected:
        return f"truncated_last_line: expected {expected} fields, found {len(fields)}; the file ends mid-row"
    return f"wrong_field_count: expected {expected} fields, found {len(fields)}"


# JSON Lines -----------------------------------------------------------------------------


def _parse_jsonl(con, feed: Feed, delivery: Delivery) -> ParsedDelivery:
    try:
        _load_lines_with_duckdb(con, delivery)
    except duckdb.Error:
        _load_lines_with_python(con, delivery)
    malformed = [
        MalformedRow(number, line, reason)
        for number, line, reason in con.execute(
            f"""
            select _row_number, line,
                   case when not json_valid(line) then 'invalid_json: the line is not valid JSON'
                        when json_type(line) <> 'OBJECT' then 'not_an_object: the line is JSON but not an object'
                        else 'ambiguous_record: the key ' || list_aggregate(
                                 list_filter(list_distinct(json_keys(line)), lambda k: len(list_filter(json_keys(line), lambda j: j = k)) > 1),
                                 'string_agg', ', ')
                             || ' occurs more than once in the line; send each key once' end
            from incoming_lines
            where line is not null and trim(line) <> ''
              and (not json_valid(line) or json_type(line) <> 'OBJECT' or {_HAS_DUPLICATE_KEY})
            order by _row_number
            """
        ).fetchall()
    ]
    con.execute("delete from incoming_lines where _row_number in (select unnest(?))", [[row.row_number for row in malformed]])
    keys_seen = {
        key
        for (key,) in con.execute(
            """
            select distinct unnest(json_keys(line)) from incoming_lines
            where case when json_valid(line) then json_type(line) = 'OBJECT' else false end
            """
        ).fetchall()
    }
    has_objects = scalar(
        con,
        "select count(*) from incoming_lines where case when json_valid(line) then json_type(line) = 'OBJECT' else false end",
    )
    if has_objects:
        missing = [name for name in feed.header_columns if name not in keys_seen]
        if missing:
            extra = sorted(keys_seen - set(feed.column_names))
            hint = f"; unexpected keys {', '.join(extra)} (renamed?)" if extra else ""
            raise DeliveryRejected(f"missing_columns: no line carries {', '.join(missing)}{hint}")
    extracted = ", ".join(f"json_extract_string(line, {_literal('$.' + quote_identifier(n))}) as {quote_identifier(n)}" for n in feed.column_names)
    con.execute(
        f"""
        create temp table {INCOMING} as
        select {extracted}, _row_number
        from incoming_lines
        where case when json_valid(line) then json_type(line) = 'OBJECT' else false end
        """
    )
    con.execute("drop table incoming_lines")
    rows = scalar(con, f"select count(*) from {INCOMING}")
    return ParsedDelivery(rows=rows, malformed=malformed, extra_columns=sorted(keys_seen - set(feed.column_names)))


_HAS_DUPLICATE_KEY = (
    "case when json_valid(line) and json_type(line) = 'OBJECT' "
    "then len(json_keys(line)) > len(list_distinct(json_keys(line))) else false end"
)


def _load_lines_with_duckdb(con, delivery: Delivery) -> None:
    # \x01 cannot occur in valid JSON text, so every line arrives whole as one column.
    con.execute("drop table if exists incoming_lines")
    con.execute(
        f"""
        create temp table incoming_lines as
        select line, row_number() over () as _row_number
        from read_csv(?, columns = {{'line': 'VARCHAR'}}, header = false, auto_detect = false,
                      delim = '\x01', quote = '', escape = '', new_line = '\\n',
                      max_line_size = {MAX_LINE_BYTES})
        """,
        [str(delivery.content_path)],
    )


def _load_lines_with_python(con, delivery: Delivery) -> None:
    lines = _decode(delivery).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    frame = pd.DataFrame({"line": [line.rstrip("\r") for line in lines]}, dtype=object)
    frame["_row_number"] = range(1, len(frame) + 1)
    con.execute("drop table if exists incoming_lines")
    con.register("incoming_frame", frame)
    con.execute("create temp table incoming_lines as select cast(line as varchar) as line, cast(_row_number as bigint) as _row_number from incoming_frame")
    con.unregister("incoming_frame")


# helpers --------------------------------------------------------------------------------


def _decode(delivery: Delivery) -> str:
    data = delivery.content_path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DeliveryRejected(_not_utf8_reason(error, line)) from None


def _not_utf8_reason(error: UnicodeDecodeError, line: int) -> str:
    byte = error.object[error.start]
    return (
        f"not_utf8: byte 0x{byte:02X} on line {line} is not UTF-8 (Latin-1 or Windows-1252 export?); "
        "re-export the file as UTF-8"
    )


def _as_csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def quote_identifier(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
