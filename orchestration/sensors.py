"""Sensors on the landing folders: every delivery ingested, none stranded, none twice.

One sensor per side of the contract watches every source folder of that side
(`sponsor/`, every `cro-<id>/`), so a new CRO is picked up without new code. On each tick
it compares the landing folders with what the ledger holds, and requests one run for the
feeds of that side with deliveries still pending: their ingestion and, in the same run,
everything built from them (staging to the marts and the published views), so a delivery
reaches its marts without waiting for another run to be evaluated and started. Each
step still waits for the blocking checks of what it reads. The graph is walked as
automation would rebuild it: not from the ledger into the views that read it live (the
as-of date), which would rebuild every mart after any delivery.

What the ledger holds is read from the receipts beside the archive
(`<archive>/<source>/<sha256[:16]>-<file>.receipt.json`): a receipt file is written only
once its delivery's ledger row committed, and reading files never takes the warehouse's
lock, which a sensor polling every few seconds would otherwise contend for with the runs.
A file is pending while no receipt names it, or when it changed after its newest receipt
and no receipt has its new hash. So the sensor keeps no memory of its own (its cursor
stays empty) and a delivery whose run failed is simply still pending: it is requested
again, once no run for it is in flight and a minute has passed since the last attempt
(Dagster's run retries, in `dagster.yaml`, usually got there first).

Strays (files under the landing root that are no delivery: an unknown feed, a bad folder
or name, a symbolic link) are recorded as rejected by whichever ingestion run comes
first; the sponsor sensor requests one for strays not yet receipted
(`<archive>/_strays/`), so a stray dropped alone is accounted for too.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from orchestration.assets.dbt import READS_LEDGER_LIVE_TAG
from orchestration.assets.raw import raw_asset_key
from orchestration.contract import SIDES, load_contract
from orchestration.ingest.deliveries import Delivery, discover, strays
from orchestration.ingest.loader import STRAYS_FOLDER
from orchestration.resources import LandingResource

MINIMUM_INTERVAL_SECONDS = 5
RETRY_AFTER_SECONDS = 60
RECEIPT_SUFFIX = ".receipt.json"
HASH_PREFIX = 16
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]


def receipted(archive_dir: Path, source: str) -> dict[str, tuple[set[str], float]]:
    """For each file name of a source: the hash prefixes its receipts name, and the time
    of the newest of them."""
    found: dict[str, tuple[set[str], float]] = defaultdict(lambda: (set(), 0.0))
    folder = archive_dir / source
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        name = path.name
        if not name.endswith(RECEIPT_SUFFIX) or name.startswith("."):
            continue
        prefix, file_name = name[:HASH_PREFIX], name[HASH_PREFIX + 1 : -len(RECEIPT_SUFFIX)]
        hashes, newest = found[file_name]
        found[file_name] = (hashes | {prefix}, max(newest, path.stat().st_mtime))
    return found


def is_pending(delivery: Delivery, receipts: dict[str, tuple[set[str], float]]) -> bool:
    hashes, newest = receipts.get(delivery.file_name, (set(), 0.0))
    if not hashes:
        return True
    if delivery.path.lstat().st_mtime <= newest:
        return False
    return delivery.sha256[:HASH_PREFIX] not in hashes  # rewritten since: judged by its bytes


def _not_receipted(files: list[Delivery], archive_dir: Path) -> list[Delivery]:
    receipts_by_source: dict[str, dict] = {}
    pending = []
    for found in files:
        if found.source not in receipts_by_source:
            receipts_by_source[found.source] = receipted(archive_dir, found.source)
        try:
            if is_pending(found, receipts_by_source[found.source]):
                pending.append(found)
        except FileNotFoundError:  # taken back by its sender since it was listed
            continue
    return pending


def pending_deliveries(landing: LandingResource, side: str) -> list[Delivery]:
    found = [delivery for feed in load_contract().feeds_of(side) for delivery in discover(landing.landing_path, feed)]
    return _not_receipted(found, landing.archive_path)


def pending_strays(landing: LandingResource) -> list[Delivery]:
    return _not_receipted(strays(landing.landing_path, load_contract()), landing.archive_path / STRAYS_FOLDER)


def _digest(deliveries: list[Delivery]) -> str:
    return hashlib.sha256("\n".join(sorted(map(_fingerprint, deliveries))).encode()).hexdigest()[:HASH_PREFIX]


def _fingerprint(delivery: Delivery) -> str:
    try:
        stat = delivery.path.lstat()
    except FileNotFoundError:
        return f"{delivery.source}/{delivery.file_name}:gone"
    return f"{delivery.source}/{delivery.file_name}:{stat.st_size}:{stat.st_mtime_ns}"


def _wait_reason(instance: dg.DagsterInstance, side: str, digest: str) -> str | None:
    """Why no run should be requested now, or None."""
    in_flight = instance.get_run_records(dg.RunsFilter(tags={"cg/side": side}, statuses=IN_FLIGHT), limit=1)
    if in_flight:
        return f"run {in_flight[0].dagster_run.run_id} is ingesting {side} deliveries"
    earlier = instance.get_run_records(dg.RunsFilter(tags={"cg/pending": digest}), limit=1)
    if earlier and earlier[0].end_time:
        waited = datetime.now(timezone.utc).timestamp() - earlier[0].end_time
        if waited < RETRY_AFTER_SECONDS:
            return (
                f"run {earlier[0].dagster_run.run_id} for these deliveries ended "
                f"{earlier[0].dagster_run.status.value.lower()} {waited:.0f} s ago; trying again after {RETRY_AFTER_SECONDS} s"
            )
    return None


def built_from(asset_graph, keys: list[dg.AssetKey]) -> list[dg.AssetKey]:
    """The assets downstream of `keys`, themselves included, that automation would rebuild."""
    selected, frontier = set(keys), list(keys)
    while frontier:
        parent = frontier.pop()
        for child in asset_graph.get(parent).child_keys:
            if child not in selected and _rebuilt_after(parent, asset_graph.get(child)):
                selected.add(child)
                frontier.append(child)
    return sorted(selected, key=lambda key: key.to_user_string())


def _rebuilt_after(parent: dg.AssetKey, child) -> bool:
    if not child.is_materializable:
        return False
    return not (parent.path[0] == "audit" and READS_LEDGER_LIVE_TAG in child.tags)


def build_delivery_sensor(side: str) -> dg.SensorDefinition:
    feeds = load_contract().feeds_of(side)

    @dg.sensor(
        name=f"{side}_deliveries",
        description=(
            f"Starts a run when {side} deliveries are pending (in a landing folder, not in the ledger): "
            "their ingestion and everything built from them, tried again until each is recorded."
        ),
        asset_selection=dg.AssetSelection.assets(*[raw_asset_key(feed) for feed in feeds]).downstream(),
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
        pending = pending_deliveries(landing, side)
        stray = pending_strays(landing) if side == SIDES[0] else []
        if not pending and not stray:
            return dg.SkipReason(f"no {side} delivery pending in {landing.landing_path}")
        digest = _digest([*pending, *stray])
        waiting = _wait_reason(context.instance, side, digest)
        if waiting:
            return dg.SkipReason(f"{len(pending)} {side} deliveries and {len(stray)} strays pending; waiting: {waiting}")
        attempt = len(context.instance.get_run_records(dg.RunsFilter(tags={"cg/pending": digest})))
        feeds_pending = sorted({d.feed for d in pending})
        ingesting = [raw_asset_key(feed) for feed in feeds if feed.name in feeds_pending]
        return dg.RunRequest(
            run_key=f"{side}@{digest}#{attempt + 1}",
            # strays alone: any ingestion records them, and nothing downstream changes
            asset_selection=built_from(context.repository_def.asset_graph, ingesting) if ingesting else [raw_asset_key(feeds[0])],
            tags={
                "cg/side": side, "cg/pending": digest, "cg/attempt": str(attempt + 1),
                "deliveries": str(len(pending)), "strays": str(len(stray)), "feeds": ",".join(feeds_pending),
            },
        )

    return _sensor


def build_delivery_sensors() -> list[dg.SensorDefinition]:
    return [build_delivery_sensor(side) for side in SIDES]


# Evaluates the dbt assets' automation conditions (eager once new raw data passed its
# blocking checks) and launches one run for what needs rebuilding.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "rebuild_after_new_data",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
)
