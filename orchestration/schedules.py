"""Schedules: what must happen even when no delivery arrives."""

import dagster as dg

as_of_dependent_marts = dg.define_asset_job(
    "refresh_conformed_and_marts",
    selection=dg.AssetSelection.groups("conform", "marts", "published"),
    description=(
        "Rebuild the conformed layer and the marts, whose SLA windows are judged at the as-of date, "
        "and publish every audience's view of them."
    ),
)

daily_refresh = dg.ScheduleDefinition(
    name="daily_marts_refresh",
    job=as_of_dependent_marts,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def build_api_pull_schedule(api_assets: list[dg.AssetsDefinition]) -> list[dg.ScheduleDefinition]:
    """Pull every configured CRO API every five minutes; no API configured, no schedule."""
    if not api_assets:
        return []
    job = dg.define_asset_job("pull_cro_apis", selection=api_assets, description="Pull new events from the CROs' APIs.")
    return [
        dg.ScheduleDefinition(
            name="cro_api_pull", job=job, cron_schedule="*/5 * * * *", execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
    ]
