"""The published views the dashboard tests read: the KPI fixture plus study ST-2 of CRO
zenith, with every InternalCost a canary (tests/fixtures/dashboard/README.md), built by
the real pipeline. Also run by hand: `python tests/dashboard_fixture.py DIR` builds it in
DIR and prints the publish folder, to look at the dashboard of the fixture."""

from __future__ import annotations

import csv
import io
import shutil
import sys
from pathlib import Path

from conftest import PROJECT_ROOT, run_pipeline, settings_for

KPI_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"
SECOND_STUDY = PROJECT_ROOT / "tests" / "fixtures" / "dashboard"
AS_OF = "2026-06-30"
CANARY_PREFIX = {"acme": "98765", "zenith": "97531"}  # then three digits, then ".32", as in tests/test_leaks.py


def write_landing(landing: Path) -> None:
    shutil.copytree(KPI_FIXTURE, landing, ignore=shutil.ignore_patterns("*.md"))
    for path in sorted(SECOND_STUDY.glob("*/*__*")):
        target = landing / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a sponsor snapshot: one file for all its studies
            rows = path.read_text().splitlines(keepends=True)[1:]
            target.write_text(target.read_text() + "".join(rows))
        else:
            shutil.copy(path, target)


def plant_canaries(landing: Path) -> dict[str, list[str]]:
    """Every InternalCost of every CRO accruals delivery becomes a unique canary."""
    planted: dict[str, list[str]] = {}
    for cro_id, prefix in CANARY_PREFIX.items():
        canaries = planted.setdefault(cro_id, [])
        for path in sorted((landing / f"cro-{cro_id}").glob("accruals__*.csv")):
            rows = list(csv.DictReader(io.StringIO(path.read_text())))
            for row in rows:
                row["InternalCost"] = f"{prefix}{len(canaries):03d}.32"
                canaries.append(row["InternalCost"])
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            path.write_text(out.getvalue())
    return planted


def build_published(root: Path):
    """The pipeline's settings (its publish folder holds the views) and the canaries planted."""
    landing = root / "landing"
    write_landing(landing)
    planted = plant_canaries(landing)
    settings = settings_for(root, landing, as_of=AS_OF)
    result = run_pipeline(settings)
    assert result.success
    return settings, planted


if __name__ == "__main__":
    settings, _ = build_published(Path(sys.argv[1]))
    print(settings.publish_dir)
