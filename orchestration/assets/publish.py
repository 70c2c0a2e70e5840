"""The publish assets: one per audience kind of the policy (`published/sponsor`,
`published/governance`, `published/cro`), downstream of every model they publish, so
they run only once those models were built and their blocking checks passed.

`published/cro` writes every CRO's file in one step rather than one dynamic partition
per CRO: the CROs are those of `marts.dim_study`, known only once the build ran, and one
step publishes them all from the same build, with no sensor to keep partitions in step."""

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from orchestration.assets.dbt import TRANSLATOR, DbtGraph
from orchestration.publish.policy import audience_kinds, audiences, load_policy, models_for, published_tables
from orchestration.publish.writer import BuildContext, cro_ids, publish_audience
from orchestration.resources import PublishResource, WarehouseResource
from orchestration.settings import PIPELINE_OWNERS
from orchestration.warehouse import POOL, naive_utc

PUBLISH_GROUP = "published"


def build_publish_asset(kind: str, dbt: DbtGraph, policy: dict) -> dg.AssetsDefinition:
    manifest = dbt.manifest
    published_tables(kind, manifest, policy)  # a policy that cannot be applied fails the code location, visibly
    models = models_for(kind, manifest)
    rules = policy["audiences"][kind]

    @dg.asset(
        key=dg.AssetKey([PUBLISH_GROUP, kind]),
        deps=[TRANSLATOR.get_asset_key(node) for node in models],
        group_name=PUBLISH_GROUP,
        owners=PIPELINE_OWNERS,
        kinds={"duckdb", "parquet"},
        pool=POOL,
        automation_condition=dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
        description=f"{rules['description'].strip()} Tables: {', '.join(node['name'] for node in models)}.",
    )
    def _publish(context: dg.AssetExecutionContext, warehouse: WarehouseResource, publish: PublishResource):
        build = BuildContext(
            warehouse=Path(warehouse.path),
            publish_dir=publish.publish_path,
            run_id=context.run_id,
            built_at=naive_utc(datetime.now(timezone.utc)),
            as_of_relation=dbt.relation_for_model("int_as_of_date"),
            retention_days=policy["retention_days"],
        )
        cros = cro_ids(build.warehouse, dbt.relation_for_model("dim_study")) if rules.get("per_cro") else []
        builds = [publish_audience(audience, build) for audience in audiences(manifest, policy, kind, cros)]
        for done in builds:
            context.log.info(f"published {done.audience} build {done.build_id}: {sum(done.rows.values())} rows in {done.seconds:.2f} s")
        return dg.MaterializeResult(
            metadata={
                "audiences": ", ".join(done.audience for done in builds) or "none",
                "databases": dg.MetadataValue.md("\n".join(f"- `{done.database}`" for done in builds) or "none"),
                "parquet": dg.MetadataValue.md("\n".join(f"- `{done.folder}/*.parquet`" for done in builds) or "none"),
                "build_id": ", ".join(sorted({done.build_id for done in builds})) or "none",
                "rows_published": sum(sum(done.rows.values()) for done in builds),
                "publish_seconds": round(sum(done.seconds for done in builds), 2),
            }
        )

    return _publish


def build_publish_assets(dbt: DbtGraph) -> list[dg.AssetsDefinition]:
    policy = load_policy()
    return [build_publish_asset(kind, dbt, policy) for kind in audience_kinds(policy)]
