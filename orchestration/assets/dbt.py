"""The dbt project as Dagster assets: staging -> intermediate -> marts, with dbt sources
lined up with the ingestion assets so the graph reads as one picture."""


import fcntl
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets

from orchestration.gates.checks import build_model_gate_checks
from orchestration.resources import WarehouseDbtResource
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, Settings
from orchestration.warehouse import POOL


def prepare_manifest(project: DbtProject, dbt_env: Mapping[str, str]) -> Path:
    """Parse the project when the manifest is older than any of its files or was parsed
    with other settings, so the manifest matches the models on disk without every process
    start paying for a parse. `dbt_env` are the settings in this process's environment,
    which the parse and the dbt runs see alike: dbt's partial parsing (which every run
    starts from) is void once the warehouse path or a setting differs. Runs starting
    together each load this module: parsing is serialized by a file lock, and the manifest
    is published by an atomic rename, so no process ever reads one half written."""
    target = Path(project.project_dir) / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    published = target / "manifest.published.json"
    parsed_with = target / "manifest.published.env.json"
    settings = json.dumps(dict(sorted(dbt_env.items())))
    with (target / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (
            published.exists()
            and published.stat().st_mtime > _newest_project_file(Path(project.project_dir))
            and parsed_with.exists()
            and parsed_with.read_text() == settings
        ):
            return published
        WarehouseDbtResource(project_dir=project, dbt_executable=DBT_EXECUTABLE, environment=dict(dbt_env)).cli(
            ["--quiet", "parse"], target_path=target
        ).wait()
        staged = target / f".manifest.{os.getpid()}.json"
        shutil.copyfile(target / "manifest.json", staged)
        os.replace(staged, published)
        parsed_with.write_text(settings)
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
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # raw.<side>__<feed> is produced by the ingestion asset of the same key
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
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
            return condition.ignore(dg.AssetSelection.key_prefixes("audit"))
        return condition

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = super().get_tags(dbt_resource_props)
        return {**tags, READS_LEDGER_LIVE_TAG: "true"} if _reads_ledger_live(dbt_resource_props) else tags

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "dictionary"
        layer = dbt_resource_props["fqn"][1]
        return LAYER_GROUPS.get(layer, layer)


MART_MODELS = "path:models/marts/kpi path:models/marts/governance path:models/marts/evidence"
TRANSLATOR = CommonGroundTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


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
    @dbt_assets(
        manifest=manifest, dagster_dbt_translator=TRANSLATOR, project=project, pool=POOL,
        exclude=MART_MODELS, name="conformed_dbt_assets",
    )
    def conformed_dbt_assets(context: dg.AssetExecutionContext, dbt: WarehouseDbtResource):
        """Dictionary seeds, staging, intermediate and the core dimensions and facts."""
        yield from dbt.cli(["build"], context=context).stream()

    @dbt_assets(
        manifest=manifest, dagster_dbt_translator=TRANSLATOR, project=project, pool=POOL,
        select=MART_MODELS, name="mart_dbt_assets",
    )
    def mart_dbt_assets(context: dg.AssetExecutionContext, dbt: WarehouseDbtResource):
        """The KPI, governance and evidence marts, built only once the conformed gates passed."""
        yield from dbt.cli(["build"], context=context).stream()

    return [conformed_dbt_assets, mart_dbt_assets]
