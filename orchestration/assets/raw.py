"""Ingestion assets: one per side and feed of the contract (`raw/<side>__<feed>`), all
made by one factory from the contract, so a new feed is a contract change, not code."""


from collections import Counter

import dagster as dg

from orchestration.contract import Feed, load_contract
from orchestration.ingest.loader import Outcome, ensure_warehouse, ingest_feed
from orchestration.resources import LandingResource, WarehouseResource
from orchestration.warehouse import scalar

INGEST_GROUP = "ingest"
POOL = "warehouse"  # one writer at a time: DuckDB allows a single writing process


def raw_asset_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed.table])


def build_raw_asset(feed: Feed) -> dg.AssetsDefinition:
    contract = load_contract()

    @dg.asset(
        key=raw_asset_key(feed),
        group_name=INGEST_GROUP,
        kinds={"duckdb", feed.format},
        pool=POOL,
        description=(
            f"{feed.side.capitalize()} `{feed.name}` deliveries ({feed.kind} {feed.format}), loaded as "
            f"delivered into raw.{feed.table} with lineage; key: {', '.join(feed.key)}."
        ),
        metadata={"feed_kind": feed.kind, "contract_version": contract.version, "key": ", ".join(feed.key)},
        tags={"side": feed.side},
    )
    def _raw_feed(context: dg.AssetExecutionContext, landing: LandingResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
        def report(outcome: Outcome) -> None:
            detail = f"{outcome.rows_loaded} rows" if outcome.status == "loaded" else outcome.reason
            context.log.info(f"{outcome.delivery.source}/{outcome.delivery.file_name}: {outcome.status} ({detail})")

        with warehouse.connect() as con:
            ensure_warehouse(con, contract)
            outcomes = ingest_feed(
                con, contract, feed, landing.landing_path, landing.archive_path, context.run_id, on_progress=report
            )
            total_rows = scalar(con, f"select count(*) from raw.{feed.table}")
        return dg.MaterializeResult(metadata=_summary(outcomes, total_rows))

    return _raw_feed


def _summary(outcomes: list[Outcome], total_rows: int) -> dict:
    statuses = Counter(outcome.status for outcome in outcomes)
    rejected = [f"{o.delivery.source}/{o.delivery.file_name}: {o.reason}" for o in outcomes if o.status == "rejected"]
    return {
        "deliveries_loaded": statuses["loaded"],
        "deliveries_duplicate": statuses["duplicate"],
        "deliveries_rejected": statuses["rejected"],
        "rows_loaded": sum(o.rows_loaded for o in outcomes),
        "rows_malformed": sum(o.rows_malformed for o in outcomes),
        "rows_in_table": total_rows,
        "rejections": dg.MetadataValue.md("\n".join(f"- {line}" for line in rejected) or "none"),
    }


raw_assets = [build_raw_asset(feed) for feed in load_contract().feeds]
