"""The dbt project as Dagster assets: staging -> intermediate -> marts, with dbt sources
lined up with the ingestion assets so the graph reads as one picture."""


import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets

from orchestration.assets.engine import engine_source_key
from orchestration.gates.checks import build_model_gate_checks
from orchestration.resources import WarehouseDbtResource, WarehouseResource
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, Settings
from orchestration.warehouse import POOL


def prepare_manifest(project: DbtProject, dbt_env: Mapping[str, str]) -> Path:
    """Parse the project when the manifest is older than any of its files or was parsed
    for another engine (whose adapter dispatches other macros), so the manifest matches
    the models on disk without every process start paying for a parse. The warehouse
    path, as-of date and currency do not change the graph Dagster reads, so processes
    that differ only in those (tests, one per warehouse) share one parse. Runs starting
    together each load this module: parsing is serialized by a file lock, and the manifest
    is published by an atomic rename, so no process ever reads one half written."""
    target = Path(project.project_dir) / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    published = target / "manifest.published.json"
    parsed_with = target / "manifest.published.env.json"
    parsed_for = json.dumps({"CG_ENGINE": dbt_env.get("CG_ENGINE", "duckdb")})
    with (target / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (
            published.exists()
            and published.stat().st_mtime > _newest_project_file(Path(project.project_dir))
            and parsed_with.exists()
            and parsed_with.read_text() == parsed_for
        ):
            return published
        WarehouseDbtResource(project_dir=project, dbt_executable=DBT_EXECUTABLE, environment=dict(dbt_env)).cli(
            ["--quiet", "parse"], target_path=target
        ).wait()
        staged = target / f".manifest.{os.getpid()}.json"
        shutil.copyfile(target / "manifest.json", staged)
        os.replace(staged, published)
        parsed_with.write_text(parsed_for)
    return published


def _newest_project_file(project_dir: Path) -> float:
    """Folders count too: deleting a model changes its folder's time."""
    generated = {"target", "logs", "dbt_packages", ".user.yml"}
    return max(
        path.stat().st_mtime for path in project_dir.rglob("*") if path.relative_to(project_dir).parts[0] not in generated
    )


LAYER_GROUPS = {"staging": "staging", "intermediate": "conform", "marts": "marts"}


# Tags the models that read the ledger live, so the delivery sensors walk the graph the
# way automation does (orchestration/sensors.py).
READS_LEDGER_LIVE_TAG = "cg/reads_ledger_live"


def _reads_ledger_live(dbt_resource_props: Mapping[str, Any]) -> bool:
    return bool(dbt_resource_props.get("config", {}).get("meta", {}).get("reads_ledger_live"))


class CommonGroundTranslator(DagsterDbtTranslator):
    def __init__(self, settings: DagsterDbtTranslatorSettings | None = None, engine: str = "duckdb"):
        super().__init__(settings=settings)
        self.engine = engine  # the adapter dbt builds with: its sources are handed over (orchestration/assets/engine.py)

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # raw.<side>__<feed> is produced by the ingestion asset of the same key (on
            # PostgreSQL, by its hand-over: orchestration/assets/engine.py)
            return engine_source_key(self.engine, dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]]))
        if dbt_resource_props["resource_type"] == "seed":
            return dg.AssetKey(["dictionary", dbt_resource_props["name"]])
        layer = dbt_resource_props["fqn"][1]
        return dg.AssetKey([LAYER_GROUPS.get(layer, layer), dbt_resource_props["name"]])

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        # Rebuild as soon as new raw data (or the audit tables, for the governance marts)
        # has landed and passed its blocking checks. A view that reads the ledger live
        # (meta `reads_ledger_live`: the as-of date) moves by itself: rebuilding it, and all
        # that depends on it, after every delivery would rebuild the whole project.
        condition = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
        if _reads_ledger_live(dbt_resource_props):
            return condition.ignore(dg.AssetSelection.key_prefixes("audit", engine_source_key(self.engine, dg.AssetKey("audit")).path))
        return condition

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = super().get_tags(dbt_resource_props)
        return {**tags, READS_LEDGER_LIVE_TAG: "true"} if _reads_ledger_live(dbt_resource_props) else tags

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # the YAML's description alone: the UI shows the SQL through the code reference
        return dbt_resource_props.get("description") or ""

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        return spec._replace(description=describe_test(manifest["nodes"][unique_id])) if spec else None

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "dictionary"
        layer = dbt_resource_props["fqn"][1]
        return LAYER_GROUPS.get(layer, layer)


REF = re.compile(r"""ref\(\s*['"](?P<model>\w+)['"]\s*\)""")
LEADING_COMMENT = re.compile(r"\s*\{#-?(?P<comment>.*?)-?#\}", re.S)


def describe_test(test: Mapping[str, Any]) -> str:
    """`not_null` on `site_number`; `accepted_values` on `status`: PLANNED, ACTIVE; a
    singular test's own leading comment."""
    if test.get("description"):
        return test["description"]
    generic = test.get("test_metadata")
    if not generic:
        comment = LEADING_COMMENT.match(test.get("raw_code", ""))
        summary = f": {' '.join(comment.group('comment').split())}" if comment else ""
        return f"dbt test {test['original_file_path']}{summary}"
    kwargs = generic.get("kwargs", {})
    described = f"dbt test `{generic['name']}`"
    if kwargs.get("column_name"):
        described += f" on `{kwargs['column_name']}`"
    if kwargs.get("columns"):
        described += f" on ({', '.join(kwargs['columns'])})"
    if kwargs.get("values"):
        described += f": {', '.join(map(str, kwargs['values']))}"
    if kwargs.get("to"):
        target = REF.fullmatch(kwargs["to"].strip())
        described += f" -> {target.group('model') if target else kwargs['to']}.{kwargs.get('field', '')}"
    return described


MART_MODELS = "path:models/marts/kpi path:models/marts/governance path:models/marts/evidence"
TRANSLATOR_SETTINGS = DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True)
TRANSLATOR = CommonGroundTranslator(settings=TRANSLATOR_SETTINGS)  # model keys, the same on every engine


@dataclass(frozen=True)
class DbtGraph:
    """The parsed dbt project as Dagster sees it: its two steps (the conformed layer, then
    the marts once the conformed gates passed) and where each model lives."""

    manifest_path: Path
    assets: tuple[dg.AssetsDefinition, ...]

    @cached_property
    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    @cached_property
    def _models(self) -> dict[str, dict]:
        nodes = self.manifest["nodes"].values()
        return {node["name"]: node for node in nodes if node["resource_type"] == "model"}

    def asset_key_for_model(self, model: str) -> dg.AssetKey:
        return TRANSLATOR.get_asset_key(self._models[model])

    def relation_for_model(self, model: str) -> str:
        """`schema.table` of a model as dbt builds it (the database is whatever file is open)."""
        node = self._models[model]
        return f'"{node["schema"]}"."{node["alias"]}"'

    def model_gate_checks(self) -> list[dg.AssetChecksDefinition]:
        return build_model_gate_checks(self.asset_key_for_model, self.relation_for_model)


def load_dbt_graph(settings: Settings) -> DbtGraph:
    """Parses the project first when its files or `settings` changed since the last parse."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR)
    manifest = prepare_manifest(project, settings.dbt_env())
    return DbtGraph(manifest_path=manifest, assets=tuple(build_dbt_assets(project, manifest)))


def load_manifest(settings: Settings) -> dict:
    return json.loads(prepare_manifest(DbtProject(project_dir=DBT_PROJECT_DIR), settings.dbt_env()).read_text())


def build_dbt_assets(project: DbtProject, manifest: Path) -> list[dg.AssetsDefinition]:
    parsed = json.loads(manifest.read_text())
    counted = counted_tables(parsed)
    translator = CommonGroundTranslator(settings=TRANSLATOR_SETTINGS, engine=parsed["metadata"]["adapter_type"])

    @dbt_assets(
        manifest=manifest, dagster_dbt_translator=translator, project=project, pool=POOL,
        exclude=MART_MODELS, name="conformed_dbt_assets",
    )
    def conformed_dbt_assets(context: dg.AssetExecutionContext, dbt: WarehouseDbtResource, warehouse: WarehouseResource):
        """Dictionary seeds, staging, intermediate and the core dimensions and facts."""
        yield from with_row_counts(dbt.cli(["build"], context=context).stream(), warehouse, counted)

    @dbt_assets(
        manifest=manifest, dagster_dbt_translator=translator, project=project, pool=POOL,
        select=MART_MODELS, name="mart_dbt_assets",
    )
    def mart_dbt_assets(context: dg.AssetExecutionContext, dbt: WarehouseDbtResource, warehouse: WarehouseResource):
        """The KPI, governance and evidence marts, built only once the conformed gates passed."""
        yield from with_row_counts(dbt.cli(["build"], context=context).stream(), warehouse, counted)

    return [conformed_dbt_assets, mart_dbt_assets]


def counted_tables(manifest: Mapping[str, Any]) -> dict[str, str]:
    """unique_id -> relation of each model stored as a table in the DuckDB warehouse (a
    view is not counted: counting would run its query). None on other engines, where the
    warehouse file does not hold the models."""
    if manifest["metadata"].get("adapter_type") != "duckdb":
        return {}
    return {
        node["unique_id"]: f'"{node["schema"]}"."{node["alias"]}"'
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed") and node["config"].get("materialized") != "view"
    }


def with_row_counts(events: Iterable, warehouse: WarehouseResource, counted: Mapping[str, str]) -> Iterator:
    """The dbt events, each built table's with its row count. DuckDB admits one writing
    process and dbt holds the file while it builds, so the counts are taken once it
    exited: the step's events follow at its end (dbt's own log streams meanwhile). Events
    of a build that failed half-way are still reported, then the failure."""
    if not counted:
        yield from events
        return
    events_so_far, failure = [], None
    try:
        events_so_far.extend(events)
    except Exception as error:  # noqa: BLE001 - re-raised below, after the events of what was built
        failure = error
    with warehouse.connect(read_only=True) as con:
        for event in events_so_far:
            unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
            relation = counted.get(getattr(unique_id, "value", unique_id))
            if relation:
                (rows,) = con.execute(f"select count(*) from {relation}").fetchone()
                event = event.with_metadata({**event.metadata, "dagster/row_count": dg.MetadataValue.int(rows)})
            yield event
    if failure:
        raise failure
