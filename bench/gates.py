"""Benchmark: the contract gate alone, on one synthetic CRO visits delivery.

    .venv/bin/python bench/gates.py --rows 1000000

Builds the reader's temporary table `incoming` of N valid rows (one in 10 000 with a
visit date in the wrong format, so the gate holds N / 10 000 rows), runs the gate once
to import and set up GX, then times a second gate on the same rows, and prints the
seconds, seconds per million rows, the rows held and the peak RSS of the process. It
measures, it does not assert, and is not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.contract import load_contract  # noqa: E402
from orchestration.gates.suites import load_suite, raw_suite_name  # noqa: E402
from orchestration.ingest.gate import gate_delivery  # noqa: E402


@dataclass(frozen=True)
class SyntheticDelivery:
    extract_at: datetime = datetime(2026, 11, 10, 3, tzinfo=timezone.utc)


def delivered_rows(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    con.execute(f"""
        create or replace temp table delivered as
        select n as _row_number, 'S1' as CroStudyRef, 'A' || (n % 97) as SiteCode, 'SUBJ-' || n as SubjectId,
               'SCRN' as VisitCode, case when n % 10000 = 0 then '03/11/2026' else '03-Nov-2026' end as VisitDate,
               '04-Nov-2026' as SdvDate, 'NE' as FinanceState, '2026-11-04T10:00:00Z' as UpdatedAt
        from range(1, {rows} + 1) as t(n)
    """)
    con.execute("create or replace temp table incoming as select * from delivered")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the delivery (default 1 000 000)")
    args = parser.parse_args(argv)
    feed = next(feed for feed in load_contract().feeds if feed.table == "cro__visits")
    suite = load_suite(raw_suite_name(feed))
    con = duckdb.connect()
    docs = Path(tempfile.mkdtemp(prefix="cg-bench-gates-"))
    print(f"contract gate of {feed.table}, {args.rows:,} rows, {len(suite.expectations)} expectations", flush=True)
    delivered_rows(con, args.rows)
    started = time.perf_counter()
    gate_delivery(con, feed, SyntheticDelivery(), suite, docs, "warm-up")
    set_up = time.perf_counter() - started
    con.execute("create or replace temp table incoming as select * from delivered")
    started = time.perf_counter()
    _, held = gate_delivery(con, feed, SyntheticDelivery(), suite, docs, "measured")
    seconds = time.perf_counter() - started
    print(f"first gate (imports and GX set-up)  {set_up:8.2f} s")
    print(f"gate                                {seconds:8.2f} s  {seconds / (args.rows / 1e6):.2f} s per million rows")
    print(f"rows held                           {len(held):8,}")
    print(f"peak RSS                            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:8.2f} GiB")
    print(f"load average                        {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
