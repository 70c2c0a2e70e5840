"""Schedules: what must happen even when no delivery arrives."""

import dagster as dg

as_of_dependent_marts = dg.define_asset_job(
    "refresh_conformed_and_marts",
    selection=dg.AssetSelection.groups("conform", "marts"),
    description="Rebuild the conformed layer and the marts, whose SLA windows are judged at the as-of date.",
)

daily_refresh = dg.ScheduleDefinition(
    name="daily_marts_refresh",
    job=as_of_dependent_marts,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
