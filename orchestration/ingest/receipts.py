"""Delivery receipts: what goes back to the sender.

Every delivery gets one, whatever its fate: a row of `audit.delivery_receipts` and the
same JSON next to the archived file (`<archive file>.receipt.json`). Its row counts
always add up: in = accepted + quarantined + rejected + already_loaded.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from orchestration.gates.validate import GateResult
from orchestration.ingest.deliveries import Delivery
from orchestration.ingest.reader import DeliveryRejected, MalformedRow, csv_records
from orchestration.warehouse import naive_utc

EXAMPLE_ROWS = 5

RECEIPTS_DDL = """
create table if not exists audit.delivery_receipts (
    delivery_id varchar primary key,
    source varchar not null,
    feed varchar,
    file_name varchar not null,
    status varchar not null,
    rows_in bigint,
    rows_accepted bigint not null,
    rows_quarantined bigint not null,
    rows_rejected bigint not null,
    rows_already_loaded bigint not null,
    gate_passed boolean,
    suite varchar,
    suite_version varchar,
    receipt_path varchar not null,
    receipt json not null,
    issued_at timestamp not null
)
"""


@dataclass
class Receipt:
    delivery_id: str
    delivery: Delivery
    status: str  # loaded | duplicate | rejected
    contract_version: str
    archive_path: Path
    rows_in: int | None
    accepted: int = 0
    quarantined: list[MalformedRow] = field(default_factory=list)
    rejected: int = 0
    already_loaded: int = 0
    reason: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    gate: GateResult | None = None

    @property
    def path(self) -> Path:
        return self.archive_path.with_name(self.archive_path.name + ".receipt.json")

    def as_dict(self) -> dict:
        return {
            "delivery_id": self.delivery_id,
            "source": self.delivery.source,
            "feed": self.delivery.feed,
            "file_name": self.delivery.file_name,
            "sha256": self.delivery.sha256,
            "extract_at": _iso(self.delivery.extract_at),
            "status": self.status,
            "reason": self.reason,
            "rows": {
                "in": self.rows_in,
                "accepted": self.accepted,
                "quarantined": len(self.quarantined),
                "rejected": self.rejected,
                "already_loaded": self.already_loaded,
            },
            "quarantine_reasons": _reason_counts(self.quarantined),
            "warnings": _warnings(self.gate),
            "extra_columns": self.extra_columns,
            "gate": None if self.gate is None else {
                "suite": self.gate.suite,
                "suite_version": self.gate.suite_version,
                "passed": self.gate.passed,
                "data_docs": str(self.gate.docs_path) if self.gate.docs_path else None,
            },
            "contract_version": self.contract_version,
            "archived_as": str(self.archive_path),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _reason_counts(rows: list[MalformedRow]) -> list[dict]:
    """Each reason code with its count, example row numbers and one full example."""
    by_code: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        for part in row.reason.split("; "):
            by_code[part.split(":", 1)[0]].append((row.row_number, part))
    return [
        {
            "reason": code,
            "count": len(found),
            "example_rows": [number for number, _ in found[:EXAMPLE_ROWS]],
            "example": found[0][1],
        }
        for code, found in sorted(by_code.items(), key=lambda item: (-len(item[1]), item[0]))
    ]


def _warnings(gate: GateResult | None) -> list[dict]:
    if gate is None:
        return []
    return [
        {
            "reason": outcome.reason,
            "count": outcome.unexpected_count,
            "example_rows": list(outcome.row_numbers[:EXAMPLE_ROWS]),
            "example_values": list(outcome.sample),
        }
        for outcome in gate.failures
        if outcome.severity == "warn"
    ]


def record(con: duckdb.DuckDBPyConnection, receipt: Receipt) -> str:
    """The table row, in the caller's transaction; returns the JSON text, which the caller
    writes with `write_file` once the transaction committed: a receipt file exists only for
    a delivery the ledger holds, and the delivery sensors rely on that."""
    document = receipt.as_dict()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    rows = document["rows"]
    gate = document["gate"] or {}
    con.execute(
        "insert or replace into audit.delivery_receipts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            receipt.delivery_id, receipt.delivery.source, receipt.delivery.feed, receipt.delivery.file_name,
            receipt.status, rows["in"], rows["accepted"], rows["quarantined"], rows["rejected"], rows["already_loaded"],
            gate.get("passed"), gate.get("suite"), gate.get("suite_version"), str(receipt.path), text,
            naive_utc(datetime.now(timezone.utc)),
        ],
    )
    return text


def write_file(path: Path, text: str) -> None:
    """Atomically and read-only: a sender's receipt is never half written nor edited."""
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(text, encoding="utf-8")
    os.chmod(partial, 0o444)
    os.replace(partial, path)


def restore_file(con: duckdb.DuckDBPyConnection, delivery_id: str) -> None:
    """Write a recorded receipt's file again when it is missing (a crash between the
    commit and the file)."""
    found = con.execute("select receipt_path, receipt from audit.delivery_receipts where delivery_id = ?", [delivery_id]).fetchall()
    if found and not Path(found[0][0]).exists():
        write_file(Path(found[0][0]), found[0][1])


def count_records(delivery: Delivery, has_header: bool) -> int:
    """Records in a file the reader did not parse (a duplicate or a rejected one): CSV
    records (a quoted field may span lines) after the header, or non-blank JSON lines."""
    text = delivery.content_path.read_bytes().decode("utf-8-sig", errors="replace")
    if not has_header:
        return sum(1 for line in text.split("\n") if line.strip())
    try:
        return max(len(csv_records(text)) - 1, 0)
    except DeliveryRejected:  # not CSV at all: its lines are the best count there is
        return max(len(text.splitlines()) - 1, 0)
