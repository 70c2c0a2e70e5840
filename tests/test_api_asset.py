"""The API pull as a Dagster asset: a real reference server on 127.0.0.1, the real asset
and resource, the token only in the environment and never in what Dagster records."""

from __future__ import annotations

import dagster as dg

from workshop.feed_server import FeedServer
from orchestration.assets.api import build_api_pull_asset, build_api_resources
from orchestration.contract import load_contract
from orchestration.ingest.deliveries import discover
from orchestration.resources import build_resources

from conftest import settings_for
from test_api_ingest import TOKEN, TOKEN_ENV_VAR, make_events, serve


def test_pull_asset_lands_a_delivery_and_records_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    serve(tmp_path / "api_source", make_events(1, 12), "events.jsonl")
    settings = settings_for(tmp_path, tmp_path / "landing")

    with FeedServer(tmp_path / "api_source", TOKEN) as server, dg.instance_for_test() as instance:
        result = dg.materialize(
            [build_api_pull_asset("acme")],
            resources={
                **build_resources(settings),
                **build_api_resources((("acme", server.url),), tmp_path / "api_state"),
            },
            instance=instance,
        )
        records = instance.fetch_materializations(dg.AssetKey(["landing", "cro_acme__events_api"]), limit=10).records
        recorded_text = repr([record.event_log_entry for record in records])

    assert result.success
    metadata = result.asset_materializations_for_node("landing__cro_acme__events_api")[0].metadata
    assert metadata["events"].value == 12
    pulled = discover(tmp_path / "landing", load_contract().feed("cro", "events"))
    assert [d.source for d in pulled] == ["cro-acme"]
    assert len(pulled[0].path.read_text().splitlines()) == 12
    assert TOKEN not in recorded_text
