"""Ingestion assets: one per side and feed of the contract (`raw/<side>__<feed>`), all
made by one factory from the contract, so a new feed is a contract change, not code."""


from collections import Counter

import dagster as dg

from orchestration.contract import Feed, load_contract
from orchestration.gates.checks import check_result
from orchestration.gates.suites import raw_suite_name
from orchestration.ingest.loader import Outcome, ensure_warehouse, ingest_feed
from orchestration.resources import LandingResource, QualityGatesResource, WarehouseResource
from orchestration.warehouse import POOL, scalar

INGEST_GROUP = "ingest"
CONTRACT_GATE = "contract_gate"


def raw_asset_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed.table])


def build_raw_asset(feed: Feed) -> dg.AssetsDefinition:
    contract = load_contract()

    @dg.asset(
        key=raw_asset_key(feed),
        check_specs=[
            dg.AssetCheckSpec(
                CONTRACT_GATE, asset=raw_asset_key(feed), blocking=True,
                description=f"The feed's contract suite (expectations/{raw_suite_name(feed)}.json) on each new delivery.",
            )
        ],
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
    def _raw_feed(
        context: dg.AssetExecutionContext, landing: LandingResource, warehouse: WarehouseResource, gates: QualityGatesResource
    ):
        def report(outcome: Outcome) -> None:
            detail = outcome.reason
            if outcome.gate:
                detail = (
                    f"{outcome.rows_loaded} rows, {outcome.rows_quarantined} quarantined; contract gate "
                    f"{'passed' if outcome.gate.passed else 'FAILED'} in {outcome.gate.seconds:.2f} s"
                )
            context.log.info(f"{outcome.delivery.source}/{outcome.delivery.file_name}: {outcome.status} ({detail})")

        with warehouse.connect() as con:
            ensure_warehouse(con, contract)
            outcomes = ingest_feed(
                con, contract, feed, landing.landing_path, landing.archive_path, gates.docs_path, context.run_id,
                on_progress=report,
            )
            total_rows = scalar(con, f"select count(*) from raw.{feed.table}")
            gated = [outcome.gate for outcome in outcomes if outcome.gate]
            verdict = check_result(gated) if gated else _standing_verdict(con, feed)
        yield dg.MaterializeResult(metadata=_summary(outcomes, total_rows))
        yield verdict

    return _raw_feed


def _standing_verdict(con, feed: Feed) -> dg.AssetCheckResult:
    """No new delivery: the verdicts on each source's latest gated delivery stand, so a
    failed gate keeps blocking until a delivery passes."""
    latest = con.execute(
        """
        select delivery_id, gate_passed from (
            select delivery_id, gate_passed,
                   row_number() over (partition by source order by issued_at desc) as recency
            from audit.delivery_receipts
            where feed = ? and starts_with(source, ?) and gate_passed is not null
        ) where recency = 1 order by delivery_id
        """,
        [feed.name, "sponsor" if feed.side == "sponsor" else "cro-"],
    ).fetchall()
    failed = [the_id for the_id, passed in latest if not passed]
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "batches_validated": 0,
            "standing_verdicts": dg.MetadataValue.md(
                "\n".join(f"- {the_id}: {'passed' if passed else 'FAILED'}" for the_id, passed in latest) or "no delivery yet"
            ),
        },
    )


def _summary(outcomes: list[Outcome], total_rows: int) -> dict:
    statuses = Counter(outcome.status for outcome in outcomes)
    rejected = [f"{o.delivery.source}/{o.delivery.file_name}: {o.reason}" for o in outcomes if o.status == "rejected"]
    return {
        "deliveries_loaded": statuses["loaded"],
        "deliveries_duplicate": statuses["duplicate"],
        "deliveries_rejected": statuses["rejected"],
        "rows_loaded": sum(o.rows_loaded for o in outcomes),
        "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
        "rows_in_table": total_rows,
        "rejections": dg.MetadataValue.md("\n".join(f"- {line}" for line in rejected) or "none"),
    }


raw_assets = [build_raw_asset(feed) for feed in load_contract().feeds]
