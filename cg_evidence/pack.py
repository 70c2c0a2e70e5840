"""Evidence packs: a KPI's rows, its records and the archived delivery files they came
from, with a manifest of every file's SHA-256, so the other party can check them without
access to the warehouse."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from cg_evidence.query import Table
from orchestration.ingest.deliveries import file_sha256

MANIFEST = "manifest.json"
RECORDS = "records.csv"
KPI_ROWS = "kpi.csv"


class PackError(Exception):
    """The pack cannot be written as asked."""


def write_pack(folder: Path, about: dict, kpi: Table, records: Table, deliveries: list[tuple[str, str, str, str]]) -> Path:
    """`deliveries` are (delivery id, source, SHA-256, archive path) of every file the
    records came from; each is copied only once its bytes are checked against the ledger."""
    if folder.exists() and any(folder.iterdir()):
        raise PackError(f"{folder} is not empty: give a new folder for the pack")
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / KPI_ROWS, kpi)
    _write_csv(folder / RECORDS, records)
    files = []
    for delivery_id, source, sha256, archive_path in sorted(deliveries):
        archived = Path(archive_path)
        if not archived.is_file() or file_sha256(archived) != sha256:
            raise PackError(f"the archived file of {delivery_id} at {archived} is missing or its bytes changed: "
                            "the archive must be restored before this pack can be written")
        copy = Path("files") / source / archived.name
        (folder / copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archived, folder / copy)
        files.append({"path": copy.as_posix(), "sha256": sha256, "delivery_id": delivery_id})
    entries = [{"path": name, "sha256": file_sha256(folder / name)} for name in (KPI_ROWS, RECORDS)]
    manifest = {**about, "files": entries + files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder / MANIFEST


def _write_csv(path: Path, table: Table) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerows(["" if value is None else value for value in row] for row in table.rows)


def verify_pack(folder: Path) -> list[str]:
    """What is wrong with a pack: every file of its manifest re-hashed, and every record's
    file hash one of the delivery files in the pack. Empty when it verifies."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return [f"no {MANIFEST} in {folder}: not an evidence pack"]
    manifest = json.loads(manifest_path.read_text())
    problems = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif (actual := file_sha256(path)) != entry["sha256"]:
            problems.append(f"{entry['path']}: SHA-256 {actual} where the manifest says {entry['sha256']}")
    delivered = {entry["sha256"] for entry in manifest["files"] if "delivery_id" in entry}
    records = folder / RECORDS
    if records.is_file():
        with records.open(newline="", encoding="utf-8") as stream:
            for number, record in enumerate(csv.DictReader(stream), start=1):
                if record["file_sha256"] not in delivered:
                    problems.append(f"{RECORDS} record {number}: file {record['file_sha256']} is not in the pack")
    return problems
