"""cg-evidence: the records behind a KPI value, with where each came from.

    cg-evidence kpi_verification_timeliness --study CG-1004 --country DE
    cg-evidence kpi_site_payment_status --study CG-1004 --pack evidence/CG-1004
    cg-evidence kpi_verification_timeliness --study CG-1004 --as-known-on 2026-06-05
    cg-evidence kpi_data_quality --source cro-acme --feed events
    cg-evidence verify evidence/CG-1004

Prints the KPI row(s), the counts they are made of (recomputed from the evidence rows),
the records as CSV, and a SHA-256 over the KPI rows (sorted, canonical: the same inputs
give the same hash). `--pack DIR` also writes an evidence pack: kpi.csv, records.csv, the
archived delivery files they came from and manifest.json with every file's SHA-256;
`cg-evidence verify DIR` re-hashes a pack without the warehouse. `--as-known-on D` (what
did we know on D: only deliveries extracted by D) and `--as-of D` (what do we know now
about D: every delivery) rebuild the KPIs as of D from the archive and the ledger into a
temporary warehouse; the live warehouse is only read.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from datetime import date
from pathlib import Path

from orchestration.settings import Settings
from orchestration.warehouse import connect


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["verify"]:
        return _verify(_verify_parser().parse_args(argv[1:]).pack)
    args = _parser().parse_args(argv)
    from cg_evidence.declarations import evidence_models

    declared = evidence_models()
    if args.kpi_mart not in declared:
        print(f"No evidence model explains {args.kpi_mart!r}. KPI marts with evidence: {', '.join(declared)}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if not settings.warehouse.exists():
        print(f"No warehouse at {settings.warehouse}: run the pipeline first (make demo).", file=sys.stderr)
        return 2
    past = args.as_known_on or args.as_of
    if past is None:
        return _report(settings, declared[args.kpi_mart], args, "the live warehouse")
    with tempfile.TemporaryDirectory(prefix="cg-evidence-") as workdir:
        from cg_evidence.history import rebuild

        evidence = declared[args.kpi_mart]
        try:
            rebuilt = rebuild(settings, Path(workdir), past, args.as_known_on, progress=lambda line: print(line, file=sys.stderr))
        except RuntimeError as failed:
            print(f"Could not rebuild as of {past}: {failed}", file=sys.stderr)
            return 1
        view = f"what was known on {past}" if args.as_known_on else f"what is known now about {past}"
        return _report(rebuilt, evidence, args, view)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cg-evidence", description=__doc__.split("\n\n")[0],
        epilog="Also: cg-evidence verify DIR (re-hash an evidence pack).", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kpi_mart", help="a KPI mart with an evidence model, e.g. kpi_verification_timeliness")
    parser.add_argument("--study", help="sponsor study id, e.g. CG-1004")
    parser.add_argument("--country", help="ISO country code, for KPIs by study and country, e.g. DE")
    parser.add_argument("--source", help="landing folder, for KPIs by source (kpi_data_quality), e.g. cro-acme")
    parser.add_argument("--feed", help="feed of the contract, for KPIs by feed (kpi_data_quality), e.g. events")
    parser.add_argument("--pack", type=Path, metavar="DIR", help="also write an evidence pack into this new folder")
    past = parser.add_mutually_exclusive_group()
    past.add_argument("--as-known-on", type=date.fromisoformat, metavar="D",
                      help="what did we know on D: rebuild from the deliveries extracted by D, as of D")
    past.add_argument("--as-of", type=date.fromisoformat, metavar="D",
                      help="what do we know now about D: rebuild from every delivery, as of D")
    return parser


def _verify_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cg-evidence verify", description="Re-hash an evidence pack against its manifest.")
    parser.add_argument("pack", type=Path, help="the pack's folder (with manifest.json)")
    return parser


def _chosen_rows(args) -> dict[str, str]:
    """KPI key column -> value, for each of --study, --country, --source, --feed given."""
    from cg_evidence.query import OPTIONS

    return {column: getattr(args, option) for column, option in OPTIONS.items() if getattr(args, option) is not None}


def _described(chosen: dict[str, str]) -> str:
    from cg_evidence.query import OPTIONS

    return ", ".join(f"{OPTIONS[column]} {value}" for column, value in chosen.items())


def _report(settings: Settings, evidence, args, view: str) -> int:
    from cg_evidence import query
    from cg_evidence.pack import write_pack

    chosen = _chosen_rows(args)
    if not chosen:
        print(f"Say which rows of {evidence.kpi} (one per {', '.join(evidence.key)}): give --study, or for kpi_data_quality "
              "--source and --feed.", file=sys.stderr)
        return 2
    with connect(settings.warehouse, read_only=True) as con:
        try:
            kpi = query.kpi_rows(con, evidence, chosen)
        except ValueError as wrong:
            print(str(wrong), file=sys.stderr)
            return 2
        if not kpi.rows:
            print(f"{evidence.kpi} has no row for {_described(chosen)} in {view}.", file=sys.stderr)
            return 1
        counts = query.evidence_counts(con, evidence, chosen)
        records = query.records(con, evidence, chosen)
        as_of = query.as_of_date(con)
        deliveries = con.execute(
            "select delivery_id, source, sha256, archive_path from audit.delivery_ledger where delivery_id in (select unnest(?))",
            [sorted({row[records.columns.index("delivery_id")] for row in records.rows})],
        ).fetchall()
    kpi_hash = query.rows_sha256(kpi)
    print(f"{evidence.kpi}: {_described(chosen)}, as of {as_of} ({view})")
    _print_table("KPI", kpi)
    _print_table(f"Counts, from the {len(records.rows)} records of {evidence.model}", counts)
    _print_table("Records", records)
    print(f"KPI rows SHA-256: {kpi_hash}")
    if args.pack:
        about = {"kpi": evidence.kpi, "evidence_model": evidence.model, **{query.OPTIONS[column]: value for column, value in chosen.items()},
                 "as_of": as_of, "view": view, "kpi_rows_sha256": kpi_hash}
        manifest = write_pack(args.pack, about, kpi, records, deliveries)
        print(f"Evidence pack: {manifest} ({len(deliveries)} delivery files); check it with: cg-evidence verify {args.pack}")
    return 0


def _print_table(title: str, table) -> None:
    print(f"\n{title}:")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(["" if value is None else value for value in row] for row in table.rows)
    print()


def _verify(pack: Path) -> int:
    from cg_evidence.pack import verify_pack

    problems = verify_pack(pack)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"The pack in {pack} does NOT verify ({len(problems)} problems).", file=sys.stderr)
        return 1
    print(f"The pack in {pack} verifies: every file has the SHA-256 of its manifest, every record's file is in it.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
