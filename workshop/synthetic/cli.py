"""`cg-generate`: write a synthetic portfolio of sponsor and CRO deliveries."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from datetime import date
from pathlib import Path

from workshop.synthetic.portfolio import SIZES, PortfolioSpec, generate_portfolio, progress_to_stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cg-generate",
        description=(
            "Write a synthetic clinical-trial portfolio as weekly sponsor and CRO deliveries in the feed "
            "contract's format (sponsor/ and cro-<id>/ folders). Deterministic for a seed. Sizes: "
            + "; ".join(f"{name}: {preset['studies']} studies, {preset['weeks']} weekly extracts" for name, preset in SIZES.items())
        ),
    )
    parser.add_argument("--size", choices=list(SIZES), default="demo", help="portfolio preset (default: demo)")
    parser.add_argument("--studies", type=int, help="number of studies (overrides the preset)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("CG_LANDING_DIR") or "data/landing"),
                        help="landing folder to write into (default: $CG_LANDING_DIR or data/landing)")
    parser.add_argument("--weeks", type=int, help="weekly extracts (overrides the preset)")
    parser.add_argument("--end-date", type=date.fromisoformat, help="date of the last extract, YYYY-MM-DD (default 2026-11-16)")
    parser.add_argument("--defect-rate", type=float, help="rate of injected realities: unknown codes, type errors, "
                        "duplicates, corrections, voids, late events, disagreements (default 0.002; 0 = clean)")
    parser.add_argument("--cros", help="comma-separated CRO ids (default: acme,zenith)")
    parser.add_argument("--workers", type=int, help="processes rendering studies (default: one per CPU); "
                        "the output is the same whatever the number")
    parser.add_argument("--force", action="store_true", help="write even if the landing folder already holds deliveries")
    args = parser.parse_args(argv)

    spec = PortfolioSpec.for_size(args.size, seed=args.seed)
    overrides = {"studies": args.studies, "weeks": args.weeks, "end_date": args.end_date, "defect_rate": args.defect_rate,
                 "cros": tuple(c.strip() for c in args.cros.split(",")) if args.cros else None}
    spec = dataclasses.replace(spec, **{k: v for k, v in overrides.items() if v is not None})
    if args.out.exists() and any(args.out.rglob("*__*")) and not args.force:
        print(f"{args.out} already holds deliveries; pass --force to add to them, or choose another --out.", file=sys.stderr)
        return 2
    started = time.perf_counter()
    summary = generate_portfolio(args.out, spec, progress=progress_to_stderr, workers=args.workers)
    print(summary.format_table())
    print(f"written to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0
