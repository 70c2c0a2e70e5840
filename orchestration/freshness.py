"""Freshness you can see: a source that goes silent past the governed window shows up.

- a Dagster freshness policy on every raw asset: a feed nobody delivered for longer than
  the window turns it stale in the UI (evaluated by the daemon: `freshness: enabled` in
  dagster.yaml);
- `sources_fresh` on `marts/source_freshness`: the same window per source and feed, so the
  one silent CRO is named, with its deliveries held and their age.
The window is the dbt var `source_silence_days` (dbt_project.yml), read here too, so both
say the same.
"""

from datetime import timedelta
from functools import cache

import dagster as dg
import yaml

from orchestration.resources import EngineResource, WarehouseResource
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.warehouse import POOL

SOURCE_FRESHNESS = dg.AssetKey(["marts", "source_freshness"])


@cache
def silence_window() -> timedelta:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return timedelta(days=int(project["vars"]["source_silence_days"]))


def raw_freshness_policy() -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=silence_window())


@dg.asset_check(
    asset=SOURCE_FRESHNESS, blocking=False, pool=POOL,
    description="Warns naming each source and feed silent past the governed window (dbt var source_silence_days).",
)
def sources_fresh(warehouse: WarehouseResource, engine: EngineResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con, engine.model_rows() as models:
        models.stage(con, "source_freshness_rows", '"marts"."source_freshness"')  # on PostgreSQL, fetched into DuckDB
        rows = con.execute(
            """
            select source, feed, hours_since_received, deliveries_held, is_stale
            from source_freshness_rows order by source, feed
            """
        ).fetchall()
        models.release(con, "source_freshness_rows")
    stale = [f"{source}/{feed}: nothing for {hours} h" for source, feed, hours, _, is_stale in rows if is_stale]
    held = [f"{source}/{feed}: {count} held" for source, feed, _, count, _ in rows if count]
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sources_and_feeds": len(rows),
            "stale": dg.MetadataValue.md("\n".join(f"- {line}" for line in stale) or "none"),
            "held": dg.MetadataValue.md("\n".join(f"- {line}" for line in held) or "none"),
            "window_days": silence_window().days,
        },
    )
