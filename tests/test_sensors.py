"""The delivery sensors, evaluated with Dagster's test utilities against real folders
and a real (temporary) instance."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.assets.raw import raw_assets
from orchestration.resources import build_resources
from orchestration.sensors import build_delivery_sensor

from conftest import settings_for, write_delivery

SITES = "CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\nS1,A,0101,France,Selected\n"


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tick(instance, landing, cursor=None):
    sensor = build_delivery_sensor("cro")
    resources = build_resources(settings_for(landing.parent, landing))
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources,
        definitions=dg.Definitions(assets=raw_assets, sensors=[sensor], resources=resources),
    )
    result = sensor.evaluate_tick(context)
    return result, result.cursor


def test_a_new_file_gives_one_run_and_the_same_file_none(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)

    first, cursor = tick(instance, landing)
    again, _ = tick(instance, landing, cursor)

    assert [(r.asset_selection, r.tags["delivery"]) for r in first.run_requests] == [
        ([dg.AssetKey(["raw", "cro__sites"])], "sites__20260105T030000Z.csv")
    ]
    assert first.run_requests[0].run_key.startswith("cro-acme/sites__20260105T030000Z.csv@")
    assert again.run_requests == []
    assert again.skip_message.startswith("no new cro delivery in ")


def test_files_still_uploading_are_ignored(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv.part", SITES)
    write_delivery(landing, "cro-acme", "events__20260105T030000Z.jsonl.tmp", "{}\n")

    result, _ = tick(instance, landing)

    assert result.run_requests == []


def test_a_new_snapshot_version_gives_one_run(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    _, cursor = tick(instance, landing)
    write_delivery(landing, "cro-acme", "sites__20260112T030000Z.csv", SITES.replace("Selected", "Activated"))

    result, _ = tick(instance, landing, cursor)

    assert [r.tags["delivery"] for r in result.run_requests] == ["sites__20260112T030000Z.csv"]


def test_a_new_cro_folder_is_watched_without_new_code(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    _, cursor = tick(instance, landing)
    write_delivery(landing, "cro-borealis", "sites__20260105T030000Z.csv", SITES)

    result, _ = tick(instance, landing, cursor)

    assert [(r.tags["source"], r.tags["delivery"]) for r in result.run_requests] == [("cro-borealis", "sites__20260105T030000Z.csv")]


def test_the_cursor_survives_a_restart(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    _, cursor = tick(instance, landing)

    result, _ = tick(instance, landing, cursor)  # a new sensor object, the stored cursor

    assert result.run_requests == []


def test_deliveries_the_ledger_already_records_request_nothing(instance, landing, tmp_path):
    from orchestration.contract import load_contract
    from orchestration.ingest.loader import ensure_warehouse, ingest_feed
    from orchestration.warehouse import connect

    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    contract = load_contract()
    with connect(landing.parent / "warehouse.duckdb") as con:  # ingested by a run the sensor did not start
        ensure_warehouse(con, contract)
        ingest_feed(con, contract, contract.feed("cro", "sites"), landing, tmp_path / "archive", tmp_path / "quality_docs")
    write_delivery(landing, "cro-acme", "sites__20260112T030000Z.csv", SITES.replace("Selected", "Activated"))

    result, _ = tick(instance, landing)

    assert [r.tags["delivery"] for r in result.run_requests] == ["sites__20260112T030000Z.csv"]
