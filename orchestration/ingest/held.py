"""Held deliveries: kept, out of sight, until released or superseded.

A delivery whose contract gate blocks as a whole is loaded into `held.<side>__<feed>`
instead of `raw.<side>__<feed>` (ledger status `held`): nothing downstream reads it, so
only its sender's data waits, at its last good state. It leaves `held` in one of two ways,
each recorded in `audit.delivery_releases` with who, when and why:
- `released`: a data steward accepts it as it is (`cg-release`, or the Dagster job
  `release_held_delivery`); its rows move to raw and it counts as loaded;
- `superseded`: the sender delivered a corrected file, loaded after it. For a snapshot
  feed any later snapshot supersedes it; for an incremental feed, a later delivery that
  carries every key of the held one (the rows kept and the rows its gate quarantined).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from orchestration.contract import Contract, Feed
from orchestration.ingest.deliveries import Delivery
from orchestration.ingest.reader import quote_identifier
from orchestration.warehouse import naive_utc

HELD_SCHEMA = "held"
RELEASES_DDL = """
create table if not exists audit.delivery_releases (
    delivery_id varchar not null,
    action varchar not null,
    released_by varchar not null,
    reason varchar not null,
    superseded_by varchar,
    run_id varchar,
    released_at timestamp not null
)
"""


class ReleaseRefused(Exception):
    """A release that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class HeldDelivery:
    delivery_id: str
    source: str
    feed: str
    file_name: str
    rows: int
    held_at: datetime
    reason: str


def held_deliveries(con: duckdb.DuckDBPyConnection) -> list[HeldDelivery]:
    rows = con.execute(
        """
        select delivery_id, source, feed, file_name, rows_loaded, ingested_at, reason
        from audit.delivery_ledger where status = 'held' order by ingested_at, delivery_id
        """
    ).fetchall()
    return [HeldDelivery(*row) for row in rows]


def release_delivery(
    con: duckdb.DuckDBPyConnection, contract: Contract, delivery_id: str, released_by: str, reason: str,
    run_id: str | None = None,
) -> tuple[Feed, int]:
    """Move a held delivery's rows to raw, in one transaction with its ledger status and
    the release record. Returns its feed and the rows released."""
    if not released_by.strip() or not reason.strip():
        raise ReleaseRefused("a release needs who releases it (--by) and why (--reason)")
    found = con.execute(
        "select side, feed, status from audit.delivery_ledger where delivery_id = ?", [delivery_id]
    ).fetchall()
    if not found:
        raise ReleaseRefused(f"no delivery {delivery_id!r} in the ledger; `cg-release list` shows the held ones")
    side, feed_name, status = found[0]
    if status != "held":
        raise ReleaseRefused(f"{delivery_id} is {status}, not held: only a held delivery can be released")
    feed = contract.feed(side, feed_name)
    con.execute("begin transaction")
    try:
        rows = con.execute(
            f"insert into raw.{feed.table} by name select * from {HELD_SCHEMA}.{feed.table} where _delivery_id = ?", [delivery_id]
        ).fetchall()[0][0]
        con.execute(f"delete from {HELD_SCHEMA}.{feed.table} where _delivery_id = ?", [delivery_id])
        con.execute("update audit.delivery_ledger set status = 'loaded' where delivery_id = ?", [delivery_id])
        _record(con, delivery_id, "released", released_by.strip(), reason.strip(), None, run_id)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return feed, rows


def supersede_held(con: duckdb.DuckDBPyConnection, feed: Feed, delivery: Delivery, delivery_id: str, run_id: str | None) -> list[str]:
    """Within the caller's transaction, once `delivery` is in raw: mark the held
    deliveries of its source and feed that it corrects as superseded."""
    source = delivery.source
    candidates = [
        held_id
        for (held_id,) in con.execute(
            """
            select delivery_id from audit.delivery_ledger
            where source = ? and feed = ? and status = 'held' and extract_at <= ? order by delivery_id
            """,
            [source, feed.name, naive_utc(delivery.extract_at)],
        ).fetchall()
    ]
    superseded = [held_id for held_id in candidates if feed.kind == "snapshot" or _keys_missing(con, feed, held_id, delivery_id) == 0]
    for held_id in superseded:
        con.execute("update audit.delivery_ledger set status = 'superseded' where delivery_id = ?", [held_id])
        _record(con, held_id, "superseded", source, f"superseded by the corrected delivery {delivery_id}", delivery_id, run_id)
    return superseded


def _keys_missing(con, feed: Feed, held_id: str, corrected_id: str) -> int:
    """Keys of the held delivery (rows kept, and rows its gate quarantined with their
    values) that the corrected delivery does not carry."""
    kept = ", ".join(quote_identifier(name) for name in feed.key)
    quarantined = ", ".join(
        f"json_extract_string(raw_values, '$.\"{name}\"') as {quote_identifier(name)}" for name in feed.key
    )
    same_key = " and ".join(f"new.{quote_identifier(name)} = held_key.{quote_identifier(name)}" for name in feed.key)
    return con.execute(
        f"""
        with held_key as (
            select {kept} from {HELD_SCHEMA}.{feed.table} where _delivery_id = $held
            union
            select {quarantined} from audit.ingest_quarantine
            where delivery_id = $held and raw_values is not null and raw_values <> ''
        )
        select count(*) from held_key
        where not exists (select 1 from raw.{feed.table} as new where new._delivery_id = $corrected and {same_key})
        """,
        {"held": held_id, "corrected": corrected_id},
    ).fetchall()[0][0]


def _record(con, delivery_id: str, action: str, by: str, reason: str, superseded_by: str | None, run_id: str | None) -> None:
    con.execute(
        "insert into audit.delivery_releases values (?, ?, ?, ?, ?, ?, ?)",
        [delivery_id, action, by, reason, superseded_by, run_id, naive_utc(datetime.now(timezone.utc))],
    )
