"""cg-release: list the held deliveries, or release one, with who and why on record.

    cg-release list
    cg-release release 'cro-acme/visits__20261110T030000Z.csv#230203d9f507' --by "J. Steward" --reason "dates checked with the CRO"

A release moves the delivery's rows from `held` to `raw` (see `orchestration/ingest/held.py`)
and tells the Dagster instance ($DAGSTER_HOME) that the feed's raw asset changed, so with
`make dev` running the marts catch up within a minute. The Dagster job
`release_held_delivery` does the same from the UI.
"""

from __future__ import annotations

import argparse
import os
import sys

from orchestration.contract import load_contract
from orchestration.ingest.held import ReleaseRefused, held_deliveries, release_delivery
from orchestration.settings import Settings
from orchestration.warehouse import connect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cg-release", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the deliveries held now, with why")
    release = commands.add_parser("release", help="release one held delivery into raw")
    release.add_argument("delivery_id", help="as `cg-release list` prints it")
    release.add_argument("--by", required=True, help="who releases it (recorded)")
    release.add_argument("--reason", required=True, help="why it may be used as it is (recorded)")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if not settings.warehouse.exists():
        print(f"No warehouse at {settings.warehouse}: nothing has been ingested yet.", file=sys.stderr)
        return 2
    if args.command == "list":
        return _list(settings)
    return _release(settings, args.delivery_id, args.by, args.reason)


def _list(settings: Settings) -> int:
    with connect(settings.warehouse, read_only=True) as con:
        held = held_deliveries(con)
    if not held:
        print("No delivery is held.")
        return 0
    for delivery in held:
        print(f"{delivery.delivery_id}  ({delivery.rows} rows, held since {delivery.held_at:%Y-%m-%d %H:%M} UTC)")
        print(f"    {delivery.reason}")
    return 0


def _release(settings: Settings, delivery_id: str, by: str, reason: str) -> int:
    try:
        with connect(settings.warehouse) as con:
            feed, rows = release_delivery(con, load_contract(), delivery_id, by, reason)
    except ReleaseRefused as refused:
        print(f"Not released: {refused}", file=sys.stderr)
        return 1
    print(f"Released {delivery_id}: {rows} rows into raw.{feed.table}, by {by}.")
    _tell_dagster(feed)
    return 0


def _tell_dagster(feed) -> None:
    """A runless materialization of the raw asset, so declarative automation rebuilds what
    depends on it; without an instance, the next build picks the release up."""
    if not os.environ.get("DAGSTER_HOME"):
        print("DAGSTER_HOME is not set: the marts include the release at the next build.")
        return
    import dagster as dg  # only here: the list command stays quick

    from orchestration.assets.audit import AUDIT_TABLES
    from orchestration.assets.raw import raw_asset_key

    with dg.DagsterInstance.get() as instance:
        for key in [raw_asset_key(feed), *AUDIT_TABLES]:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, description="a held delivery was released"))
    print(f"Dagster instance told: {raw_asset_key(feed).to_user_string()} changed; automation rebuilds the marts.")


if __name__ == "__main__":
    sys.exit(main())
