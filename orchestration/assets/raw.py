"""Ingestion assets: one per side and feed of the contract (`raw/<side>__<feed>`), all
made by one factory from the contract, so a new feed is a contract change, not code."""


from collections import Counter

import dagster as dg

from orchestration.contract import Column, Feed, load_contract
from orchestration.freshness import raw_freshness_policy
from orchestration.gates.checks import check_results, gate_check_specs
from orchestration.gates.suites import raw_suite_name
from orchestration.ingest.loader import LINEAGE_COLUMNS, Outcome, ensure_warehouse, ingest_feed
from orchestration.resources import LandingResource, QualityDocsResource, WarehouseResource
from orchestration.settings import PIPELINE_OWNERS
from orchestration.warehouse import POOL, scalar

INGEST_GROUP = "ingest"
CONTRACT_GATE = "contract_gate"


def raw_asset_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed.table])


def build_raw_asset(feed: Feed) -> dg.AssetsDefinition:
    contract = load_contract()

    @dg.asset(
        key=raw_asset_key(feed),
        check_specs=gate_check_specs(
            CONTRACT_GATE, raw_asset_key(feed),
            f"The feed's contract suite (expectations/{raw_suite_name(feed)}.json) on each new delivery; a "
            "delivery it blocks is held out of this table, so the gate fails only if a blocking delivery got in.",
        ),
        group_name=INGEST_GROUP,
        owners=PIPELINE_OWNERS,
        freshness_policy=raw_freshness_policy(),
        kinds={"duckdb", feed.format},
        pool=POOL,
        description=(
            f"{feed.side.capitalize()} `{feed.name}` deliveries ({feed.kind} {feed.format}), loaded as "
            f"delivered into raw.{feed.table} with lineage; key: {', '.join(feed.key)}."
        ),
        metadata={
            "feed_kind": feed.kind, "contract_version": contract.version, "key": ", ".join(feed.key),
            "dagster/column_schema": raw_column_schema(feed),
        },
        tags={"side": feed.side},
    )
    def _raw_feed(
        context: dg.AssetExecutionContext, landing: LandingResource, warehouse: WarehouseResource,
        quality_docs: QualityDocsResource,
    ):
        def report(outcome: Outcome) -> None:
            detail = outcome.reason
            if outcome.gate:
                detail = (
                    f"{outcome.rows_loaded} rows, {outcome.rows_quarantined} quarantined; contract gate "
                    f"{'passed' if outcome.gate.passed else 'FAILED'} in {outcome.gate.seconds:.2f} s"
                )
                if outcome.status == "held":
                    detail += f"; {outcome.reason}"
            context.log.info(f"{outcome.delivery.source}/{outcome.delivery.file_name}: {outcome.status} ({detail})")

        with warehouse.connect() as con:
            ensure_warehouse(con, contract)
            outcomes = ingest_feed(
                con, contract, feed, landing.landing_path, landing.archive_path, quality_docs.docs_path, context.run_id,
                on_progress=report,
            )
            total_rows = scalar(con, f"select count(*) from raw.{feed.table}")
            still_held = _held_deliveries(con, feed)
        yield dg.MaterializeResult(metadata=_summary(outcomes, total_rows))
        yield from check_results(
            [outcome.gate for outcome in outcomes if outcome.gate and outcome.status == "loaded"],
            gate=CONTRACT_GATE,
            held=still_held,
            rows_quarantined=sum(outcome.rows_quarantined for outcome in outcomes if outcome.status == "loaded"),
        )

    return _raw_feed


def raw_column_schema(feed: Feed) -> dg.TableSchema:
    """Every value lands as delivered, as text; the contract's type and rules say what the
    gate checks it against. Then the lineage columns the loader adds."""
    delivered = [
        dg.TableColumn(
            column.name, "varchar", description=_contract_rules(feed, column),
            constraints=dg.TableColumnConstraints(nullable=not column.required),
            tags={"sensitivity": column.sensitivity} if column.sensitivity != "shared" else {},
        )
        for column in feed.columns
    ]
    lineage = [dg.TableColumn(name, data_type, description="lineage") for name, data_type in LINEAGE_COLUMNS.items()]
    return dg.TableSchema(columns=[*delivered, *lineage])


def _contract_rules(feed: Feed, column: Column) -> str:
    kind = f"{column.type} ({feed.date_format})" if column.type == "date" else column.type
    rules = [
        f"one of {', '.join(column.values)}" if column.values else "",
        "required" if column.required else "",
        "may be absent" if column.optional else "",
        "not after the extract time" if column.past else "",
        f"at least {column.min:g}" if column.min is not None else "",
        f"at most {column.max:g}" if column.max is not None else "",
        f"not before {column.not_before}" if column.not_before else "",
        "key" if column.name in feed.key else "",
    ]
    return "; ".join([f"contract: {kind}", *filter(None, rules)])


def _held_deliveries(con, feed: Feed) -> list[str]:
    """Every delivery of the feed waiting in held, this run's and earlier ones: each
    warns until it is released or superseded."""
    return [
        f"{delivery_id}: {reason}"
        for delivery_id, reason in con.execute(
            "select delivery_id, reason from audit.delivery_ledger where side = ? and feed = ? and status = 'held' order by delivery_id",
            [feed.side, feed.name],
        ).fetchall()
    ]


def _summary(outcomes: list[Outcome], total_rows: int) -> dict:
    statuses = Counter(outcome.status for outcome in outcomes)
    rejected = [f"{o.delivery.source}/{o.delivery.file_name}: {o.reason}" for o in outcomes if o.status == "rejected"]
    return {
        "deliveries_loaded": statuses["loaded"],
        "deliveries_held": statuses["held"],
        "deliveries_duplicate": statuses["duplicate"],
        "deliveries_rejected": statuses["rejected"],
        "rows_loaded": sum(o.rows_loaded for o in outcomes),
        "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
        "rows_in_table": total_rows,
        "rejections": dg.MetadataValue.md("\n".join(f"- {line}" for line in rejected) or "none"),
    }


def build_raw_assets() -> list[dg.AssetsDefinition]:
    return [build_raw_asset(feed) for feed in load_contract().feeds]
