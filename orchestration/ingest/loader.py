"""Loading deliveries into the warehouse: archive, decide, load atomically, record.

Every delivery ends up as exactly one row of `audit.delivery_ledger`:
- `loaded`: its rows are in `raw.<side>__<feed>` (rows it could not read are in
  `audit.ingest_quarantine`);
- `duplicate`: the same bytes were already loaded for this source and feed (for a
  snapshot: the same bytes as the snapshot in force), so it changes nothing;
- `rejected`: it breaks the contract as a whole; `reason` says why and what to do.
Each delivery's rows, quarantined rows and ledger row commit in one transaction, so a
crash leaves nothing partial behind and the next run completes the work.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb

from orchestration.contract import Contract, Feed
from orchestration.ingest.deliveries import Delivery, discover
from orchestration.warehouse import scalar
from orchestration.ingest.reader import INCOMING, DeliveryRejected, ParsedDelivery, parse_delivery_into

log = logging.getLogger(__name__)

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
    side varchar not null,
    cro_id varchar,
    feed varchar not null,
    file_name varchar not null,
    extract_at timestamp not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    status varchar not null,
    rows_loaded bigint not null,
    rows_malformed bigint not null,
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


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    status: str  # loaded | duplicate | rejected
    rows_loaded: int = 0
    rows_malformed: int = 0
    reason: str | None = None


def ensure_warehouse(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    con.execute("create schema if not exists raw; create schema if not exists audit")
    con.execute(LEDGER_DDL)
    con.execute(QUARANTINE_DDL)
    for feed in contract.feeds:
        ensure_raw_table(con, feed)


def ensure_raw_table(con: duckdb.DuckDBPyConnection, feed: Feed) -> None:
    """Create the raw table, or add columns the contract gained since it was created."""
    wanted = {name: "varchar" for name in feed.column_names} | LINEAGE_COLUMNS
    existing = {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
            [feed.table],
        ).fetchall()
    }
    if not existing:
        columns = ", ".join(f'"{name}" {kind}' for name, kind in wanted.items())
        con.execute(f"create table raw.{feed.table} ({columns})")
        return
    for name, kind in wanted.items():
        if name not in existing:
            con.execute(f'alter table raw.{feed.table} add column "{name}" {kind}')


def ingest_feed(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    feed: Feed,
    landing_dir: Path,
    archive_dir: Path,
    run_id: str | None = None,
    on_progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Ingest every delivery of `feed` not yet in the ledger, in extract-time order."""
    outcomes = []
    for delivery in discover(landing_dir, feed):
        outcome = ingest_delivery(con, contract, feed, delivery, archive_dir, run_id)
        if outcome is None:
            continue
        outcomes.append(outcome)
        if on_progress:
            on_progress(outcome)
    return outcomes


def ingest_delivery(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    feed: Feed,
    delivery: Delivery,
    archive_dir: Path,
    run_id: str | None,
) -> Outcome | None:
    """Returns None when this exact file (name and bytes) is already in the ledger."""
    if _already_recorded(con, delivery):
        return None
    archive_path = archive(delivery, archive_dir)
    verdict = _judge_against_history(con, feed, delivery)
    if verdict is not None:
        status, reason, duplicate_of = verdict
        _record(con, contract, delivery, archive_path, run_id, status=status, reason=reason, duplicate_of=duplicate_of)
        return Outcome(delivery, status, reason=reason)
    try:
        parsed = parse_delivery_into(con, feed, delivery)
    except DeliveryRejected as rejection:
        _record(con, contract, delivery, archive_path, run_id, status="rejected", reason=rejection.reason)
        return Outcome(delivery, "rejected", reason=rejection.reason)
    _load(con, contract, feed, delivery, parsed, archive_path, run_id)
    return Outcome(delivery, "loaded", rows_loaded=parsed.rows, rows_malformed=len(parsed.malformed))


def delivery_id(delivery: Delivery) -> str:
    return f"{delivery.source}/{delivery.file_name}#{delivery.sha256[:12]}"


def archive(delivery: Delivery, archive_dir: Path) -> Path:
    """An immutable copy, named by content, written atomically (copy, then rename)."""
    target = archive_dir / delivery.source / f"{delivery.sha256[:16]}-{delivery.file_name}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(delivery.path, partial)
    os.chmod(partial, 0o444)
    os.replace(partial, target)
    return target


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
        where source = ? and file_name = ? and status in ('loaded', 'duplicate')
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
        [delivery.source, feed.name, _naive_utc(delivery.extract_at)],
    ).fetchall()
    if feed.kind == "snapshot":
        loaded = loaded[:1]
    return next((found_id for found_id, sha in loaded if sha == delivery.sha256), None)


def _load(con, contract: Contract, feed: Feed, delivery: Delivery, parsed: ParsedDelivery, archive_path: Path, run_id) -> None:
    now = _naive_utc(datetime.now(timezone.utc))
    the_id = delivery_id(delivery)
    columns = ", ".join(f'"{name}"' for name in feed.column_names)
    lineage = [the_id, delivery.source, delivery.cro_id, delivery.file_name, delivery.sha256, _naive_utc(delivery.extract_at), now]
    con.execute("begin transaction")
    try:
        con.execute(
            f"""
            insert into raw.{feed.table} ({columns}, _delivery_id, _source, _cro_id, _file_name,
                                          _file_sha256, _extract_at, _loaded_at, _row_number)
            select {columns}, ?, ?, ?, ?, ?, ?, ?, _row_number from {INCOMING}
            """,
            lineage,
        )
        if parsed.malformed:
            con.executemany(
                "insert into audit.ingest_quarantine values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [the_id, delivery.source, feed.name, delivery.file_name, delivery.sha256, row.row_number, row.raw_values, row.reason, now]
                    for row in parsed.malformed
                ],
            )
        _record(
            con, contract, delivery, archive_path, run_id,
            status="loaded", rows_loaded=parsed.rows, rows_malformed=len(parsed.malformed),
            extra_columns=parsed.extra_columns, now=now,
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute(f"drop table if exists {INCOMING}")


def _record(
    con, contract: Contract, delivery: Delivery, archive_path: Path, run_id: str | None, *,
    status: str, reason: str | None = None, duplicate_of: str | None = None, rows_loaded: int = 0,
    rows_malformed: int = 0, extra_columns: list[str] | None = None, now: datetime | None = None,
) -> None:
    con.execute(
        "insert into audit.delivery_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            delivery_id(delivery), delivery.source, delivery.side, delivery.cro_id, delivery.feed,
            delivery.file_name, _naive_utc(delivery.extract_at), delivery.sha256, delivery.size_bytes,
            status, rows_loaded, rows_malformed, reason, duplicate_of,
            ", ".join(extra_columns) if extra_columns else None, str(archive_path), contract.version,
            run_id, now or _naive_utc(datetime.now(timezone.utc)),
        ],
    )


def _naive_utc(moment: datetime) -> datetime:
    """The warehouse stores UTC timestamps without zone, portably."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
