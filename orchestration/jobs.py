"""Jobs a data engineer launches from the Dagster UI."""

import dagster as dg
from pydantic import Field

from orchestration.assets.audit import AUDIT_TABLES
from orchestration.assets.raw import raw_asset_key
from orchestration.contract import load_contract
from orchestration.ingest.held import release_delivery
from orchestration.resources import WarehouseResource
from orchestration.warehouse import POOL


class ReleaseConfig(dg.Config):
    delivery_id: str = Field(description="the held delivery, as the ledger and `cg-release list` name it")
    released_by: str = Field(description="who releases it")
    reason: str = Field(description="why it may be used as it is")


@dg.op(pool=POOL, description="Move a held delivery's rows into raw, with who and why recorded.")
def release_delivery_op(context: dg.OpExecutionContext, config: ReleaseConfig, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        feed, rows = release_delivery(con, load_contract(), config.delivery_id, config.released_by, config.reason, context.run_id)
    context.log.info(f"released {config.delivery_id}: {rows} rows into raw.{feed.table}, by {config.released_by}")
    # the raw asset and the ledger changed: declarative automation rebuilds what depends on them
    for key in [raw_asset_key(feed), *AUDIT_TABLES]:
        yield dg.AssetMaterialization(asset_key=key, metadata={"released": config.delivery_id, "rows": rows})
    yield dg.Output(None)


@dg.job(description="Release a held delivery (see `cg-release list`); the marts catch up through automation.")
def release_held_delivery():
    release_delivery_op()
