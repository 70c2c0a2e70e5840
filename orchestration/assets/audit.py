"""The audit tables as one asset downstream of every ingestion asset: the ledger,
quarantine and releases after the deliveries of a run, which the governance marts read
(dbt sources `audit.*`). The ingestion assets write the tables; this asset reports what
they hold, so the graph orders the governance marts after ingestion and automation
rebuilds them after every run, held deliveries included."""

import dagster as dg

from orchestration.assets.raw import INGEST_GROUP, raw_asset_key
from orchestration.contract import load_contract
from orchestration.ingest.loader import ensure_warehouse
from orchestration.resources import WarehouseResource
from orchestration.settings import PIPELINE_OWNERS
from orchestration.warehouse import POOL

AUDIT_TABLES = [dg.AssetKey(["audit", table]) for table in ("delivery_ledger", "ingest_quarantine", "delivery_releases")]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key, deps=[raw_asset_key(feed) for feed in load_contract().feeds], group_name=INGEST_GROUP, kinds={"duckdb"}, owners=PIPELINE_OWNERS,
            automation_condition=dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
            description=f"audit.{key.path[-1]}, written by the ingestion assets.",
        )
        for key in AUDIT_TABLES
    ],
    pool=POOL,
)
def audit_tables(warehouse: WarehouseResource):
    with warehouse.connect() as con:
        ensure_warehouse(con, load_contract())
        statuses = dict(con.execute("select status, count(*) from audit.delivery_ledger group by status").fetchall())
        counts = {key: con.execute(f"select count(*) from {'.'.join(key.path)}").fetchall()[0][0] for key in AUDIT_TABLES}
    for key in AUDIT_TABLES:
        metadata = {"rows": counts[key]}
        if key.path[-1] == "delivery_ledger":
            metadata |= {f"deliveries_{status}": statuses.get(status, 0) for status in ("loaded", "held", "superseded", "duplicate", "rejected")}
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
