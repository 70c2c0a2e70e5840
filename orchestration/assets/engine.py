"""The hand-over of what dbt reads to the engine it builds on (`CG_ENGINE=postgres`).

Deliveries are ingested and gated in DuckDB; one step then copies every `raw` and
`audit` table to PostgreSQL (`copy_to_postgres`, by COPY, in one transaction). Its assets
are the dbt sources as PostgreSQL holds them, `postgres/<schema>/<table>`, each
downstream of the DuckDB asset of the same table, so the graph reads ingestion ->
hand-over -> staging, and a delivery's run (sensor or automation) reaches the marts on
PostgreSQL. On DuckDB there is nothing to hand over: no assets.
"""

import json
from pathlib import Path

import dagster as dg

from orchestration.assets.raw import INGEST_GROUP
from orchestration.engines import copy_to_postgres
from orchestration.resources import EngineResource, WarehouseResource
from orchestration.warehouse import POOL

HANDOFF_GROUP = INGEST_GROUP


def engine_source_key(engine: str, source_key: dg.AssetKey) -> dg.AssetKey:
    """The asset key dbt's source has on `engine`: the DuckDB table's own, or the engine's copy of it."""
    return source_key if engine == "duckdb" else dg.AssetKey([engine, *source_key.path])


def build_handoff_assets(engine_name: str, manifest: Path) -> list[dg.AssetsDefinition]:
    """The hand-over of every dbt source of the manifest, as one step."""
    if engine_name == "duckdb":
        return []
    sources = json.loads(manifest.read_text())["sources"].values()
    source_keys = sorted({dg.AssetKey([source["source_name"], source["name"]]) for source in sources}, key=lambda key: key.to_user_string())

    @dg.multi_asset(
        name=f"{engine_name}_handoff",
        specs=[
            dg.AssetSpec(
                engine_source_key(engine_name, key), deps=[key], group_name=HANDOFF_GROUP, kinds={engine_name},
                automation_condition=dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
                description=f"{'.'.join(key.path)} copied from the DuckDB warehouse to {engine_name} by COPY, for dbt.",
            )
            for key in source_keys
        ],
        pool=POOL,
    )
    def _handoff(context: dg.AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource):
        pg_con = engine.postgres()
        try:
            with warehouse.connect(read_only=True) as duck_con:
                copied = copy_to_postgres(duck_con, pg_con)
        finally:
            pg_con.close()
        context.log.info(f"copied {sum(copied.values()):,} rows of {len(copied)} tables to {engine.engine}")
        for key in context.selected_asset_keys:
            table = ".".join(key.path[1:])
            yield dg.MaterializeResult(asset_key=key, metadata={"rows": copied.get(table, 0)})

    return [_handoff]
