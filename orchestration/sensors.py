"""Sensors on the landing folders: one run per new delivery, exactly once.

One sensor per side of the contract watches every source folder of that side
(`sponsor/`, every `cro-<id>/`), so a new CRO is picked up without new code. A delivery
is identified by its path and the SHA-256 of its bytes: the run key, so an identical
file seen again requests nothing, and a file rewritten with other bytes is a new
delivery (which the ledger then judges). The cursor remembers (size, mtime, hash) per
file, so unchanged files are not hashed again on every tick.
"""

import json

import dagster as dg
import duckdb

from orchestration.assets.raw import raw_asset_key
from orchestration.contract import SIDES, load_contract
from orchestration.ingest.deliveries import Delivery, discover
from orchestration.resources import LandingResource, WarehouseResource

MINIMUM_INTERVAL_SECONDS = 10


def _fingerprint(delivery: Delivery, known: dict[str, list]) -> tuple[list, bool]:
    """(size, mtime, sha256) of the file, reusing the cursor's hash when size and mtime
    have not changed; and whether it is new or changed."""
    stat = delivery.path.stat()
    relative = f"{delivery.source}/{delivery.file_name}"
    previous = known.get(relative)
    if previous and previous[:2] == [stat.st_size, stat.st_mtime_ns]:
        return previous, False
    return [stat.st_size, stat.st_mtime_ns, delivery.sha256], True


def _recorded_deliveries(warehouse: WarehouseResource) -> set[tuple[str, str, str]]:
    """(source, file name, sha256) of every delivery in the ledger. When the warehouse is
    busy or new, nothing: the runs are then requested and find the work already done."""
    try:
        with warehouse.connect(read_only=True) as con:
            return set(con.execute("select source, file_name, sha256 from audit.delivery_ledger").fetchall())
    except (duckdb.Error, RuntimeError):
        return set()


def build_delivery_sensor(side: str) -> dg.SensorDefinition:
    feeds = load_contract().feeds_of(side)

    @dg.sensor(
        name=f"{side}_deliveries",
        description=f"Starts ingestion when a {side} delivery lands (one run per new file, keyed by its hash).",
        asset_selection=[raw_asset_key(feed) for feed in feeds],
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingResource, warehouse: WarehouseResource):
        known = json.loads(context.cursor) if context.cursor else {}
        recorded = _recorded_deliveries(warehouse) if not known else set()
        seen, requests = {}, []
        for feed in feeds:
            for delivery in discover(landing.landing_path, feed):
                fingerprint, is_new = _fingerprint(delivery, known)
                seen[f"{delivery.source}/{delivery.file_name}"] = fingerprint
                if is_new and (delivery.source, delivery.file_name, fingerprint[2]) not in recorded:
                    requests.append(
                        dg.RunRequest(
                            run_key=f"{delivery.source}/{delivery.file_name}@{fingerprint[2]}",
                            asset_selection=[raw_asset_key(feed)],
                            tags={"source": delivery.source, "feed": feed.name, "delivery": delivery.file_name},
                        )
                    )
        context.update_cursor(json.dumps(seen, sort_keys=True))
        if not requests:
            return dg.SkipReason(f"no new {side} delivery in {landing.landing_path} ({len(seen)} known files)")
        return requests

    return _sensor


delivery_sensors = [build_delivery_sensor(side) for side in SIDES]


# Evaluates the dbt assets' automation conditions (eager once new raw data passed its
# blocking checks) and launches one run for what needs rebuilding.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "rebuild_after_new_data",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
)
