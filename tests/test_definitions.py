"""The real code location: it loads, validates, and its graph is one connected picture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from orchestration.contract import load_contract

from conftest import PROJECT_ROOT

DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_dagster_definitions_validate(tmp_path):
    result = subprocess.run(
        [DAGSTER, "definitions", "validate", "-m", "orchestration.definitions"],
        cwd=PROJECT_ROOT, env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_feed_has_an_ingestion_asset_feeding_its_staging_model():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for feed in load_contract().feeds:
        raw_key = dg.AssetKey(["raw", feed.table])
        staging_key = dg.AssetKey(["staging", f"stg_{feed.side}__{feed.name}"])
        assert graph.get(raw_key).is_materializable
        assert graph.get(raw_key).group_name == "ingest"
        assert raw_key in graph.get(staging_key).parent_keys


def test_groups_follow_the_layers():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = {key.path[0]: graph.get(key).group_name for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    assert groups == {"raw": "ingest", "dictionary": "dictionary", "staging": "staging", "conform": "conform", "marts": "marts"}
    assert graph.get(dg.AssetKey(["marts", "kpi_country_startup"])).group_name == "marts"


def test_dbt_sources_name_every_raw_table_of_the_contract():
    sources = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "staging" / "_sources.yml").read_text())["sources"]
    raw = next(source for source in sources if source["name"] == "raw")
    assert sorted(table["name"] for table in raw["tables"]) == sorted(feed.table for feed in load_contract().feeds)


def test_every_staging_model_exists_once_per_side_and_feed():
    staging = PROJECT_ROOT / "dbt_project" / "models" / "staging"
    models = sorted(path.relative_to(staging).as_posix() for path in staging.rglob("stg_*.sql"))
    assert models == sorted(f"{feed.side}/stg_{feed.side}__{feed.name}.sql" for feed in load_contract().feeds)


def test_dbt_feed_list_matches_the_contract():
    macro = (PROJECT_ROOT / "dbt_project" / "macros" / "feeds.sql").read_text()
    pairs = re.findall(r"\('(\w+)', '(\w+)'\)", macro)
    assert pairs == [(feed.side, feed.name) for feed in load_contract().feeds]
