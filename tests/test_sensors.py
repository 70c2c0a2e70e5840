"""The delivery sensors, evaluated with Dagster's test utilities against real folders,
real ingestion into a real DuckDB file and a real (temporary) instance."""

from __future__ import annotations

import os

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from orchestration import sensors
from orchestration.assets.raw import build_raw_assets
from orchestration.contract import load_contract
from orchestration.ingest.loader import ensure_warehouse, ingest_feed
from orchestration.resources import build_resources
from orchestration.sensors import build_delivery_sensor
from orchestration.warehouse import connect

from conftest import settings_for, write_delivery

SITES = "CroStudyRef,SiteCode,SponsorSiteNo,Country,Status\nS1,A,0101,France,Selected\n"


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tick(instance, landing, side="cro"):
    sensor = build_delivery_sensor(side)
    resources = build_resources(settings_for(landing.parent, landing))
    context = dg.build_sensor_context(
        instance=instance, resources=resources,
        definitions=dg.Definitions(assets=build_raw_assets(), sensors=[sensor], resources=resources),
    )
    return sensor.evaluate_tick(context)


def ingest(landing, feed_name="sites"):
    """What the requested run does: the feed's pending deliveries into the ledger."""
    contract = load_contract()
    root = landing.parent
    with connect(root / "warehouse.duckdb") as con:
        ensure_warehouse(con, contract)
        ingest_feed(con, contract, contract.feed("cro", feed_name), landing, root / "archive", root / "quality_docs")


def record_run(instance, tags, status):
    run = dg.DagsterRun(job_name="__ASSET_JOB", run_id=make_new_run_id(), tags=tags, status=dg.DagsterRunStatus.STARTED)
    instance.add_run(run)
    if status == dg.DagsterRunStatus.FAILURE:
        instance.report_run_failed(run)
    return run


def test_a_new_file_gives_one_run_and_once_recorded_none(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)

    first = tick(instance, landing)
    ingest(landing)
    again = tick(instance, landing)

    (request,) = first.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "cro__sites"])]
    assert (request.tags["deliveries"], request.tags["feeds"], request.tags["cg/attempt"]) == ("1", "sites", "1")
    assert request.run_key == f"cro@{request.tags['cg/pending']}#1"
    assert again.run_requests == []
    assert again.skip_message.startswith("no cro delivery pending in ")


def test_files_still_uploading_are_ignored(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv.part", SITES)
    write_delivery(landing, "cro-acme", "events__20260105T030000Z.jsonl.tmp", "{}\n")

    result = tick(instance, landing)

    assert result.run_requests == []


def test_a_new_snapshot_version_gives_one_run(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    ingest(landing)
    write_delivery(landing, "cro-acme", "sites__20260112T030000Z.csv", SITES.replace("Selected", "Activated"))

    (request,) = tick(instance, landing).run_requests

    assert (request.tags["deliveries"], request.tags["feeds"]) == ("1", "sites")


def test_a_new_cro_folder_is_watched_without_new_code(instance, landing):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    ingest(landing)
    write_delivery(landing, "cro-borealis", "sites__20260105T030000Z.csv", SITES)
    write_delivery(landing, "cro-borealis", "visits__20260105T030000Z.csv", "CroStudyRef\n")

    (request,) = tick(instance, landing).run_requests

    assert (request.tags["deliveries"], request.tags["feeds"]) == ("2", "sites,visits")
    assert sorted(key.to_user_string() for key in request.asset_selection) == ["raw/cro__sites", "raw/cro__visits"]


def test_a_file_rewritten_after_its_receipt_is_pending_again(instance, landing):
    path = write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    ingest(landing)
    path.write_text(SITES.replace("France", "Spain"))
    later = path.stat().st_mtime + 5
    os.utime(path, (later, later))

    (request,) = tick(instance, landing).run_requests

    assert request.tags["deliveries"] == "1"


def test_a_failed_run_is_requested_again_after_a_pause_and_none_while_one_is_in_flight(instance, landing, monkeypatch):
    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    (first,) = tick(instance, landing).run_requests
    run = record_run(instance, first.tags, dg.DagsterRunStatus.FAILURE)  # e.g. the warehouse was locked

    paused = tick(instance, landing)
    monkeypatch.setattr(sensors, "RETRY_AFTER_SECONDS", 0)
    (retry,) = tick(instance, landing).run_requests
    record_run(instance, retry.tags, dg.DagsterRunStatus.STARTED)
    in_flight = tick(instance, landing)

    assert paused.run_requests == []
    assert paused.skip_message.startswith(
        f"1 cro deliveries and 0 strays pending; waiting: run {run.run_id} for these deliveries ended failure "
    )
    assert (retry.run_key, retry.tags["cg/attempt"]) == (first.run_key[:-1] + "2", "2")
    assert in_flight.run_requests == []
    assert "is ingesting cro deliveries" in in_flight.skip_message


def test_the_sensor_keeps_no_cursor_whatever_the_number_of_files(instance, landing):
    for day in range(1000):
        write_delivery(landing, "cro-acme", f"visits__2025{1 + day // 28 % 12:02}{1 + day % 28:02}T{day // 336:02}0000Z.csv", "x\n")

    result = tick(instance, landing)

    (request,) = result.run_requests
    assert request.tags["deliveries"] == "1000"
    assert len(result.cursor or "") < 2048


def test_a_stray_dropped_alone_starts_a_run_that_records_it(instance, landing):
    write_delivery(landing, "cro-acme", "budget__20260105T030000Z.csv", "x\n")

    (request,) = tick(instance, landing, side="sponsor").run_requests
    ingest(landing)  # any ingestion run records the strays
    after = tick(instance, landing, side="sponsor")

    assert (request.tags["deliveries"], request.tags["strays"]) == ("0", "1")
    assert request.asset_selection == [dg.AssetKey(["raw", "sponsor__studies"])]
    assert tick(instance, landing).run_requests == []  # the CRO sensor leaves strays to the sponsor's
    assert after.run_requests == []


def test_a_run_requested_for_a_delivery_builds_all_that_automation_would_rebuild_after_it(instance, landing):
    from orchestration.definitions import build_definitions

    write_delivery(landing, "cro-acme", "sites__20260105T030000Z.csv", SITES)
    definitions = build_definitions(settings_for(landing.parent, landing))
    sensor = definitions.resolve_sensor_def("cro_deliveries")
    context = dg.build_sensor_context(instance=instance, resources=definitions.resources, definitions=definitions)

    (request,) = sensor.evaluate_tick(context).run_requests
    selected = {key.to_user_string() for key in request.asset_selection}

    assert {"raw/cro__sites", "staging/stg_cro__sites", "marts/dim_site", "marts/kpi_site_readiness",
            "audit/delivery_ledger", "conform/int_mappings__country_names", "marts/held_deliveries", "published/sponsor"} <= selected
    # not another feed's ingestion, nor the as-of view that reads the ledger live
    assert not selected & {"raw/cro__visits", "staging/stg_cro__visits", "conform/int_as_of_date"}
