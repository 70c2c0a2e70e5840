"""The Dagster code location: assembles assets, jobs and resources; no logic here, and no
work at import: Dagster calls `defs` when it loads the location (then the dbt project is
parsed, if it changed, and the contract read)."""

import warnings

import dagster as dg

from orchestration.assets.api import build_api_pull_asset, build_api_resources
from orchestration.assets.audit import audit_tables
from orchestration.assets.dbt import load_dbt_graph
from orchestration.assets.engine import build_handoff_assets
from orchestration.assets.publish import build_publish_assets
from orchestration.assets.raw import build_raw_assets
from orchestration.freshness import sources_fresh
from orchestration.jobs import release_held_delivery
from orchestration.resources import build_resources
from orchestration.run_cleanup import free_pool_of_dead_runs, in_process_freeing_dead_runs
from orchestration.schedules import as_of_dependent_marts, build_api_pull_schedule, daily_refresh
from orchestration.sensors import automation_sensor, build_delivery_sensors
from orchestration.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    # Code references are a beta API we chose; its warning, once per asset, would bury
    # every run's output (and fill a pipe a caller reads only at the end).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return build_definitions(Settings.from_env())


def build_definitions(settings: Settings) -> dg.Definitions:
    """The whole code location for `settings`: tests load it with their own folders."""
    dbt = load_dbt_graph(settings)
    api_pull_assets = [build_api_pull_asset(cro_id) for cro_id, _ in settings.cro_apis]
    refresh_all = dg.define_asset_job(
        "refresh_all",
        selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*api_pull_assets),
        description="Ingest every new delivery, then build and test the dbt project end to end.",
    )
    return dg.Definitions(
        assets=[
            *dg.with_source_code_references([
                *build_raw_assets(), audit_tables, *build_handoff_assets(settings.engine, dbt.manifest_path),
                *build_publish_assets(dbt), *api_pull_assets,
            ]),
            *dbt.assets,  # their code references are the model files (the translator's setting)
        ],
        asset_checks=[*dbt.model_gate_checks(), sources_fresh],
        jobs=[refresh_all, as_of_dependent_marts, release_held_delivery],
        schedules=[daily_refresh, *build_api_pull_schedule(api_pull_assets)],
        sensors=[*build_delivery_sensors(), automation_sensor, free_pool_of_dead_runs],
        resources={**build_resources(settings), **build_api_resources(settings.cro_apis, settings.api_state_dir)},
        # One writer at a time: steps run one after another in the run's process, once the
        # pool slots of runs whose process died are freed (orchestration/run_cleanup.py).
        executor=in_process_freeing_dead_runs,
    )
