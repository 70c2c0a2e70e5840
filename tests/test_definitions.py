"""The real code location: it loads, validates, and its graph is one connected picture."""

from __future__ import annotations

import os
import re
import shutil
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


# Run in a fresh interpreter: what the code location's own modules do while they are
# imported (module bodies under orchestration/ and the calls they make), not what the
# libraries they import do at their own import (dagster's vendored croniter runs `file`).
IMPORT_WATCHER = """
import os, sys
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
SPAWNING = {"subprocess.Popen", "os.posix_spawn", "os.fork", "os.forkpty", "os.exec", "os.spawn", "os.system"}
CHANGING = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.putenv", "os.unsetenv", "shutil.copyfile"}
ours = os.path.join(os.getcwd(), "orchestration") + os.sep
seen = []

def writes(event, args):
    if event != "open":
        return False
    path, mode, flags = args
    return bool(set(mode) & set("wax+")) if isinstance(mode, str) else bool(isinstance(flags, int) and flags & WRITING)

def during_our_module_body():
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            return frame.f_code.co_filename.startswith(ours)
        frame = frame.f_back
    return False

def watch(event, args):
    if (event in SPAWNING or event in CHANGING or writes(event, args)) and during_our_module_body():
        seen.append(f"{event} {args[0]!r}")

sys.addaudithook(watch)
import orchestration.definitions
print("\\n".join(seen))
"""


def test_importing_the_code_location_writes_no_file_and_starts_no_process():
    result = subprocess.run(
        [sys.executable, "-B", "-c", IMPORT_WATCHER], cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""


def test_the_code_location_imports_none_of_the_tools_beside_it():
    result = subprocess.run(
        [sys.executable, "-c", "import sys, orchestration.definitions; "
         "print(sorted({name.split('.')[0] for name in sys.modules} & {'workshop', 'dashboard'}))"],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_every_feed_has_an_ingestion_asset_feeding_its_staging_model():
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    for feed in load_contract().feeds:
        raw_key = dg.AssetKey(["raw", feed.table])
        staging_key = dg.AssetKey(["staging", f"stg_{feed.side}__{feed.name}"])
        assert graph.get(raw_key).is_materializable
        assert graph.get(raw_key).group_name == "ingest"
        assert raw_key in graph.get(staging_key).parent_keys


def test_groups_follow_the_layers():
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    groups = {key.path[0]: graph.get(key).group_name for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    assert groups == {
        "raw": "ingest", "audit": "ingest", "dictionary": "dictionary", "staging": "staging", "conform": "conform", "marts": "marts",
        "published": "published",
    }
    assert graph.get(dg.AssetKey(["marts", "kpi_country_startup"])).group_name == "marts"


def test_dbt_sources_name_every_raw_table_of_the_contract():
    sources = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "models" / "staging" / "_raw__sources.yml").read_text())["sources"]
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


def test_the_manifest_is_parsed_again_only_when_the_project_or_the_engine_changed(tmp_path):
    from dagster_dbt import DbtProject

    from orchestration.assets.dbt import prepare_manifest

    copy = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    project = DbtProject(project_dir=copy)

    settings = {"CG_WAREHOUSE": str(tmp_path / "warehouse.duckdb"), "CG_AS_OF": "", "CG_REPORTING_CURRENCY": "USD"}
    parsed_at = prepare_manifest(project, settings).stat().st_mtime_ns
    assert prepare_manifest(project, settings).stat().st_mtime_ns == parsed_at  # nothing changed: no parse
    other_warehouse = {**settings, "CG_WAREHOUSE": str(tmp_path / "other.duckdb"), "CG_AS_OF": "2026-06-30"}
    assert prepare_manifest(project, other_warehouse).stat().st_mtime_ns == parsed_at  # the same graph: no parse
    assert prepare_manifest(project, {**settings, "CG_ENGINE": "postgres"}).stat().st_mtime_ns > parsed_at

    (copy / "models" / "marts" / "kpi" / "kpi_new.sql").write_text("select 1 as answer\n")
    assert '"model.common_ground.kpi_new"' in prepare_manifest(project, settings).read_text()
    (copy / "models" / "marts" / "kpi" / "kpi_new.sql").unlink()
    assert '"model.common_ground.kpi_new"' not in prepare_manifest(project, settings).read_text()


def test_each_layer_of_model_gates_is_one_step_with_a_blocking_check_and_a_warning_twin_per_model():
    from orchestration.assets.dbt import load_dbt_graph
    from orchestration.settings import Settings

    model_gate_checks = load_dbt_graph(Settings.from_env()).model_gate_checks()

    specs = {definition.node_def.name: sorted((key.asset_key.to_user_string(), key.name) for key in definition.check_keys)
             for definition in model_gate_checks}
    assert sorted(specs) == ["conformed_gates", "mart_gates"]
    assert ("marts/fct_subject_visits", "conformed_gate") in specs["conformed_gates"]
    assert ("marts/fct_subject_visits", "conformed_gate_warnings") in specs["conformed_gates"]
    assert ("marts/kpi_country_startup", "mart_gate") in specs["mart_gates"]
    assert len(specs["conformed_gates"]) == 2 * 16 and len(specs["mart_gates"]) == 2 * 12
    assert {(spec.name, spec.blocking) for definition in model_gate_checks for spec in definition.check_specs} == {
        ("conformed_gate", True), ("conformed_gate_warnings", False), ("mart_gate", True), ("mart_gate_warnings", False),
    }


def test_the_dagster_ui_shows_who_owns_each_asset_what_it_is_and_where_its_code_is():
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    nodes = [graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    dbt_nodes = [node for node in nodes if node.key.path[0] in ("dictionary", "staging", "conform", "marts")]

    assert [node.key.to_user_string() for node in nodes if not node.owners] == []
    assert graph.get(dg.AssetKey(["marts", "audit_trail"])).owners == ["team:joint-governance"]
    assert graph.get(dg.AssetKey(["raw", "cro__visits"])).owners == ["team:data-engineering"]
    assert [node.key.to_user_string() for node in dbt_nodes if not node.description or "Raw SQL" in node.description] == []
    assert [node.key.to_user_string() for node in nodes if "dagster/code_references" not in node.metadata] == []

    visits = graph.get(dg.AssetKey(["raw", "cro__visits"])).metadata["dagster/column_schema"]
    sdv = next(column for column in visits.columns if column.name == "SdvDate")
    assert (sdv.type, sdv.description) == ("varchar", "contract: date (%d-%b-%Y); not after the extract time; not before VisitDate")
    assert [column.name for column in visits.columns][-8:] == [
        "_delivery_id", "_source", "_cro_id", "_file_name", "_file_sha256", "_extract_at", "_row_number", "_loaded_at",
    ]

    checks = {key.name: graph.get_check_spec(key).description for key in graph.asset_check_keys}
    assert [name for name, description in checks.items() if not description] == []
    assert checks["accepted_values_int_sponsor__studies_study_status__PLANNED__ACTIVE__CLOSED"] == (
        "dbt test `accepted_values` on `study_status`: PLANNED, ACTIVE, CLOSED"
    )
