"""Loading deliveries into the warehouse: archive, decide, load atomically, record.

Every delivery ends up as exactly one row of `audit.delivery_ledger` and one receipt:
- `loaded`: its rows passed the contract gate and are in `raw.<side>__<feed>`; rows it
  could not read, rows failing an error expectation of the gate and rows repeating ones
  already loaded are in `audit.ingest_quarantine`, each with its reasons;
- `held`: its contract gate blocks (a rule broken beyond the governed tolerance: a
  systematic problem). Its rows are kept in `held.<side>__<feed>`, out of sight of
  everything downstream, so only this sender's data waits; it leaves through a governed
  release (`release.py`) or as `superseded` once the sender delivers a corrected file;
- `duplicate`: the same bytes were already loaded for this source and feed (for a
  snapshot: the same bytes as the snapshot in force), so it changes nothing;
- `rejected`: it breaks the contract as a whole; `reason` says why and what to do. A
  stray file (misnamed, unknown feed or folder, a stamp in the future, a symbolic link)
  is rejected too, with the rule it breaks; its feed, side or extract time may be null.
Each delivery's rows, quarantined rows, ledger row and receipt commit in one
transaction, so a crash leaves nothing partial behind and the next run completes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from orchestration.contract import Contract, Feed
from orchestration.gates.suites import Suite, load_suite, raw_suite_name
from orchestration.gates.validate import GateResult, publish_docs
from orchestration.ingest.deliveries import Delivery, Stray, discover, file_sha256, strays
from orchestration.ingest.gate import gate_delivery
from orchestration.ingest.held import HELD_SCHEMA, RELEASES_DDL, supersede_held
from orchestration.ingest.reader import INCOMING, DeliveryRejected, MalformedRow, parse_delivery_into, quote_identifier
from orchestration.ingest.receipts import RECEIPTS_DDL, Receipt, count_records, record, restore_file, write_file
from orchestration.warehouse import naive_utc, scalar

LINEAGE_COLUMNS = {
    "_delivery_id": "varchar",
    "_source": "varchar",
    "_cro_id": "varchar",
    "_file_name": "varchar",
    "_file_sha256": "varchar",
    "_extract_at": "timestamp",
    "_row_number": "bigint",
    "_loaded_at": "timestamp",
}

LEDGER_DDL = """
create table if not exists audit.delivery_ledger (
    delivery_id varchar primary key,
    source varchar not null,
    side varchar,
    cro_id varchar,
    feed varchar,
    file_name varchar not null,
    extract_at timestamp,
    sha256 varchar not null,
    size_bytes bigint not null,
    status varchar not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    reason varchar,
    duplicate_of varchar,
    extra_columns varchar,
    archive_path varchar not null,
    contract_version varchar not null,
    run_id varchar,
    ingested_at timestamp not null
)
"""

QUARANTINE_DDL = """
create table if not exists audit.ingest_quarantine (
    delivery_id varchar not null,
    source varchar not null,
    feed varchar not null,
    file_name varchar not null,
    file_sha256 varchar not null,
    row_number bigint not null,
    raw_values varchar,
    reason varchar not null,
    quarantined_at timestamp not null
)
"""
# null for a stray file whose name or folder says nothing of them (warehouses made before)
NULLABLE_FOR_STRAYS = {"delivery_ledger": ("side", "feed", "extract_at"), "delivery_receipts": ("feed",)}

STRAYS_FOLDER = "_strays"  # where strays are archived: no source folder can be named so

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    status: str  # loaded | held | duplicate | rejected
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    gate: GateResult | None = None
    receipt_path: Path | None = None


def ensure_warehouse(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    con.execute(f"create schema if not exists raw; create schema if not exists audit; create schema if not exists {HELD_SCHEMA}")
    con.execute(LEDGER_DDL)
    con.execute(QUARANTINE_DDL)
    con.execute(RECEIPTS_DDL)
    con.execute(RELEASES_DDL)
    for table, columns in NULLABLE_FOR_STRAYS.items():
        for column in columns:
            con.execute(f"alter table audit.{table} alter column {column} drop not null")
    for feed in contract.feeds:
        for schema in ("raw", HELD_SCHEMA):
            ensure_feed_table(con, feed, schema)


def ensure_feed_table(con: duckdb.DuckDBPyConnection, feed: Feed, schema: str) -> None:
    """Create the feed's table in `schema` (raw, or held), or add columns the contract
    gained since it was created."""
    wanted = {name: "varchar" for name in feed.column_names} | LINEAGE_COLUMNS
    existing = {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, feed.table],
        ).fetchall()
    }
    if not existing:
        columns = ", ".join(f'"{name}" {kind}' for name, kind in wanted.items())
        con.execute(f"create table {schema}.{feed.table} ({columns})")
        return
    for name, kind in wanted.items():
        if name not in existing:
            con.execute(f'alter table {schema}.{feed.table} add column "{name}" {kind}')


def ingest_feed(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    feed: Feed,
    landing_dir: Path,
    archive_dir: Path,
    docs_dir: Path,
    run_id: str | None = None,
    on_progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Ingest every delivery of `feed` not yet in the ledger, in extract-time order, and
    record every new stray under the landing root (whichever ingestion runs first records
    it), then write the Data Docs pages of their contract gates (the index is written by
    the model gates, once a run)."""
    suite = load_suite(raw_suite_name(feed))
    outcomes = []
    new_deliveries = (ingest_delivery(con, contract, feed, suite, d, archive_dir, docs_dir, run_id) for d in discover(landing_dir, feed))
    new_strays = (record_stray(con, contract, stray, archive_dir, run_id) for stray in strays(landing_dir, contract))
    for outcome in chain(new_deliveries, new_strays):
        if outcome is None:
            continue
        outcomes.append(outcome)
        if on_progress:
            on_progress(outcome)
    publish_docs([outcome.gate for outcome in outcomes if outcome.gate], docs_dir, with_index=False)
    return outcomes


def ingest_delivery(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    feed: Feed,
    suite: Suite,
    delivery: Delivery,
    archive_dir: Path,
    docs_dir: Path,
    run_id: str | None,
) -> Outcome | None:
    """Returns None when this exact file (name and bytes) is already in the ledger, or when
    it is gone or still being written (the next run takes it)."""
    if not _is_new(con, delivery):
        return None
    delivery = archive(delivery, archive_dir)
    if delivery is None:
        return None
    archive_path = delivery.archived
    receipt = Receipt(delivery_id(delivery), delivery, "loaded", contract.version, archive_path, rows_in=None)
    verdict = _judge_against_history(con, feed, delivery)
    if verdict is not None:
        receipt.status, receipt.reason, duplicate_of = verdict
        receipt.rows_in = count_records(delivery, has_header=feed.format == "csv")
        if duplicate_of:
            receipt.already_loaded = receipt.rows_in
        else:
            receipt.rejected = receipt.rows_in
        _commit(con, feed, receipt, run_id, duplicate_of=duplicate_of)
        return Outcome(delivery, receipt.status, reason=receipt.reason, receipt_path=receipt.path)
    try:
        parsed = parse_delivery_into(con, feed, delivery)
    except DeliveryRejected as rejection:
        receipt.status, receipt.reason = "rejected", rejection.reason
        receipt.rows_in = count_records(delivery, has_header=feed.format == "csv")
        receipt.rejected = receipt.rows_in
        _commit(con, feed, receipt, run_id)
        return Outcome(delivery, "rejected", reason=rejection.reason, receipt_path=receipt.path)
    receipt.rows_in = parsed.rows + len(parsed.malformed)
    receipt.extra_columns = parsed.extra_columns
    repeated = _hold_repeated_rows(con, feed, delivery)
    receipt.gate, held = gate_delivery(con, feed, delivery, suite, docs_dir, run_name=receipt.delivery_id)
    receipt.quarantined = sorted([*parsed.malformed, *held, *repeated], key=lambda row: row.row_number)
    receipt.accepted = receipt.rows_in - len(receipt.quarantined)
    if not receipt.gate.passed:
        receipt.status, receipt.reason = "held", held_reason(receipt)
    _commit(con, feed, receipt, run_id, load=True)
    return Outcome(
        delivery, receipt.status, rows_loaded=receipt.accepted, rows_quarantined=len(receipt.quarantined),
        reason=receipt.reason, gate=receipt.gate, receipt_path=receipt.path,
    )


def held_reason(receipt: Receipt) -> str:
    broken = "; ".join(
        f"{outcome.reason} in {', '.join(outcome.columns)} on {outcome.unexpected_count} of {receipt.gate.rows} rows"
        for outcome in receipt.gate.outcomes if outcome.blocks
    )
    return (
        f"held: the contract gate blocks ({broken}), beyond the governed tolerance; nothing of this delivery "
        "is used until the sender delivers a corrected file with a later timestamp, or the data steward "
        f"releases it: cg-release release '{receipt.delivery_id}' --by NAME --reason TEXT"
    )


def delivery_id(delivery: Delivery) -> str:
    return f"{delivery.source}/{delivery.file_name}#{delivery.sha256[:12]}"


def archive(delivery: Delivery, archive_dir: Path) -> Delivery | None:
    """The delivery as read from its immutable copy, named by content and written
    atomically (copy, then rename), so that its hash, its archive copy and the rows loaded
    all come from the same bytes. None when the file vanished or changed while it was
    copied (still being written). A copy already at the target, left by an interrupted
    attempt, is kept only when its bytes are the right ones."""
    folder = archive_dir / delivery.source
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{delivery.file_name}.{os.getpid()}.part"
    try:
        sha256 = _copy_if_unchanged(delivery, partial)
    except FileNotFoundError:
        sha256 = None
    if sha256 is None:
        partial.unlink(missing_ok=True)
        log.warning("%s/%s vanished or changed while it was archived; the next run takes it", delivery.source, delivery.file_name)
        return None
    target = folder / f"{sha256[:16]}-{delivery.file_name}"
    if target.exists() and file_sha256(target) == sha256:
        partial.unlink()
    else:
        os.chmod(partial, 0o444)
        os.replace(partial, target)
    return delivery.archived_as(target, sha256)


def _copy_if_unchanged(delivery: Delivery, partial: Path) -> str | None:
    """Copies the landed file, hashing as it goes: its hash, or None when its bytes are not
    those hashed when it was found, or changed during the copy."""
    before = delivery.path.stat()
    digest = hashlib.sha256()
    with delivery.path.open("rb") as landed, partial.open("wb") as copy:
        for block in iter(lambda: landed.read(1 << 20), b""):
            digest.update(block)
            copy.write(block)
    after = delivery.path.stat()
    unchanged = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    return digest.hexdigest() if unchanged and digest.hexdigest() == delivery.sha256 else None


def _is_new(con, delivery: Delivery) -> bool:
    """Not in the ledger yet; False too for a file its sender deleted since it was found.
    A recorded delivery whose receipt file is missing (a crash between the commit and the
    file) gets its file again."""
    try:
        recorded = _already_recorded(con, delivery)
    except FileNotFoundError:
        return False
    if recorded:
        restore_file(con, delivery_id(delivery))
    return not recorded


def record_stray(con, contract: Contract, stray: Stray, archive_dir: Path, run_id: str | None) -> Outcome | None:
    """A stray file, archived and recorded as rejected with the rule it breaks; None when
    it is already recorded, gone or still being written. A symbolic link is archived as
    where it points: its target is never read."""
    if not _is_new(con, stray):
        return None
    archived = _archive_link(stray, archive_dir) if stray.is_link else archive(stray, archive_dir / STRAYS_FOLDER)
    if archived is None:
        return None
    receipt = Receipt(delivery_id(archived), archived, "rejected", contract.version, archived.archived, rows_in=0, reason=stray.reason)
    if not stray.is_link:
        receipt.rows_in = receipt.rejected = count_records(archived, has_header=stray.path.suffix == ".csv")
    now = naive_utc(datetime.now(timezone.utc))
    con.execute("begin transaction")
    try:
        _record(con, receipt, run_id, None, now)
        text = record(con, receipt)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    write_file(receipt.path, text)
    return Outcome(archived, "rejected", reason=stray.reason, receipt_path=receipt.path)


def _archive_link(stray: Stray, archive_dir: Path) -> Stray:
    target = archive_dir / STRAYS_FOLDER / stray.source / f"{stray.sha256[:16]}-{stray.file_name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_bytes(stray.link_text())
    os.chmod(partial, 0o444)
    os.replace(partial, target)
    return stray.archived_as(target, stray.sha256)


def _already_recorded(con, delivery: Delivery) -> bool:
    return bool(
        scalar(
            con,
            "select count(*) from audit.delivery_ledger where source = ? and file_name = ? and sha256 = ?",
            [delivery.source, delivery.file_name, delivery.sha256],
        )
    )


def _judge_against_history(con, feed: Feed, delivery: Delivery) -> tuple[str, str, str | None] | None:
    """A verdict (status, reason, duplicate_of) when history decides, else None (load it)."""
    overwritten = scalar(
        con,
        """
        select delivery_id from audit.delivery_ledger
        where source = ? and file_name = ? and status in ('loaded', 'held', 'superseded', 'duplicate')
        """,
        [delivery.source, delivery.file_name],
    )
    if overwritten:
        return (
            "rejected",
            f"conflicting_redelivery: {delivery.file_name} was already delivered with other bytes "
            f"({overwritten}); send a correction as a new file with a later timestamp",
            None,
        )
    same_bytes = _same_bytes_in_force(con, feed, delivery)
    if same_bytes:
        return ("duplicate", f"duplicate: the same bytes were already loaded as {same_bytes}", same_bytes)
    return None


def _same_bytes_in_force(con, feed: Feed, delivery: Delivery) -> str | None:
    """For incremental feeds any earlier load with the same bytes; for snapshots only the
    snapshot in force before this one (an A-B-A sequence must load A again)."""
    loaded = con.execute(
        """
        select delivery_id, sha256 from audit.delivery_ledger
        where source = ? and feed = ? and status = 'loaded' and extract_at <= ?
        order by extract_at desc, file_name desc
        """,
        [delivery.source, feed.name, naive_utc(delivery.extract_at)],
    ).fetchall()
    if feed.kind == "snapshot":
        loaded = loaded[:1]
    return next((found_id for found_id, sha in loaded if sha == delivery.sha256), None)


def _hold_repeated_rows(con, feed: Feed, delivery: Delivery) -> list[MalformedRow]:
    """A row identical to an earlier one of the same delivery, or (in an incremental feed,
    from an overlapping extract window) to one its source already delivered, is held once
    rather than counted twice. Snapshots repeat earlier deliveries' rows by design."""
    columns = ", ".join(quote_identifier(name) for name in feed.column_names)
    repeated = con.execute(
        f"""
        select _row_number, 'row ' || first_row || ' of this delivery' from (
            select _row_number, min(_row_number) over (partition by {columns}) as first_row from {INCOMING}
        ) where _row_number > first_row
        """
    ).fetchall()
    if feed.kind == "incremental":
        repeated += _rows_already_loaded(con, feed, delivery.source)
    first_found = {}
    for number, earlier in repeated:
        first_found.setdefault(number, earlier)
    if first_found:
        con.execute(f"delete from {INCOMING} where _row_number in (select unnest(?))", [list(first_found)])
    return [
        MalformedRow(number, "", f"repeated_row: identical to {earlier}, already counted")
        for number, earlier in sorted(first_found.items())
    ]


def _rows_already_loaded(con, feed: Feed, source: str) -> list[tuple[int, str]]:
    same_key = " and ".join(f"loaded.{quote_identifier(name)} = new.{quote_identifier(name)}" for name in feed.key)
    same_values = "".join(
        f" and loaded.{quote_identifier(name)} is not distinct from new.{quote_identifier(name)}"
        for name in feed.column_names if name not in feed.key
    )
    return con.execute(
        f"""
        select new._row_number, min(loaded._delivery_id || ' row ' || loaded._row_number)
        from {INCOMING} as new
        join raw.{feed.table} as loaded on loaded._source = ? and {same_key}{same_values}
        group by new._row_number
        """,
        [source],
    ).fetchall()


def _commit(con, feed: Feed, receipt: Receipt, run_id: str | None, *, load: bool = False, duplicate_of: str | None = None) -> None:
    """The delivery's rows, quarantined rows, ledger row and receipt, all or nothing."""
    now = naive_utc(datetime.now(timezone.utc))
    delivery = receipt.delivery
    con.execute("begin transaction")
    try:
        if load:
            _insert_rows(con, feed, receipt, now, HELD_SCHEMA if receipt.status == "held" else "raw")
        if load and receipt.status == "loaded":
            supersede_held(con, feed, delivery, receipt.delivery_id, run_id)
        if receipt.quarantined:
            _insert_quarantined(con, feed, receipt, now)
        _record(con, receipt, run_id, duplicate_of, now)
        text = record(con, receipt)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute(f"drop table if exists {INCOMING}")
    write_file(receipt.path, text)


def _insert_rows(con, feed: Feed, receipt: Receipt, now: datetime, schema: str) -> None:
    delivery = receipt.delivery
    columns = ", ".join(quote_identifier(name) for name in feed.column_names)
    con.execute(
        f"""
        insert into {schema}.{feed.table} ({columns}, _delivery_id, _source, _cro_id, _file_name,
                                      _file_sha256, _extract_at, _loaded_at, _row_number)
        select {columns}, ?, ?, ?, ?, ?, ?, ?, _row_number from {INCOMING}
        """,
        [receipt.delivery_id, delivery.source, delivery.cro_id, delivery.file_name, delivery.sha256,
         naive_utc(delivery.extract_at), now],
    )


def _insert_quarantined(con, feed: Feed, receipt: Receipt, now: datetime) -> None:
    """In one statement from a frame: row-by-row inserts cost DuckDB about a millisecond each."""
    delivery = receipt.delivery
    held = pd.DataFrame(
        [(row.row_number, row.raw_values, row.reason) for row in receipt.quarantined],
        columns=["row_number", "raw_values", "reason"],
    )
    con.execute(
        """
        insert into audit.ingest_quarantine
        select ?, ?, ?, ?, ?, cast(row_number as bigint), cast(raw_values as varchar), cast(reason as varchar), ?
        from held
        """,
        [receipt.delivery_id, delivery.source, feed.name, delivery.file_name, delivery.sha256, now],
    )


def _record(con, receipt: Receipt, run_id: str | None, duplicate_of: str | None, now: datetime) -> None:
    delivery = receipt.delivery
    con.execute(
        "insert into audit.delivery_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            receipt.delivery_id, delivery.source, delivery.side, delivery.cro_id, delivery.feed,
            delivery.file_name, delivery.extract_at and naive_utc(delivery.extract_at), delivery.sha256, delivery.size_bytes,
            receipt.status, receipt.accepted, len(receipt.quarantined), receipt.reason, duplicate_of,
            ", ".join(receipt.extra_columns) or None, str(receipt.archive_path), receipt.contract_version,
            run_id, now,
        ],
    )
