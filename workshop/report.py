"""Readable summaries of the warehouse for people at a terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.warehouse import connect

INGEST_SUMMARY = """
select
    source,
    count(*) filter (where status = 'loaded') as loaded,
    count(*) filter (where status = 'held') as held,
    count(*) filter (where status = 'superseded') as superseded,
    count(*) filter (where status = 'duplicate') as duplicate,
    count(*) filter (where status = 'rejected') as rejected,
    cast(sum(rows_loaded) as bigint) as rows_loaded,
    cast(sum(rows_quarantined) as bigint) as rows_quarantined
from audit.delivery_ledger
group by source
order by source
"""

STUDY_SUMMARY = """
with startup as (
    select
        study_id,
        max(case when perspective = 'sponsor' then days_protocol_final_to_first_country_ready end) as pf_to_country_sponsor,
        max(case when perspective = 'cro' then days_protocol_final_to_first_country_ready end) as pf_to_country_cro,
        max(case when perspective = 'cro' then days_first_site_ready_to_fpi end) as site_to_fpi_cro
    from marts.kpi_study_startup
    group by study_id
),
enrollment as (
    select study_id, sum(actual_randomized_cum) as randomized, sum(planned_randomized_cum) as planned
    from marts.kpi_enrollment_vs_plan
    where month = (select strftime(as_of_date, '%Y-%m') from intermediate.int_as_of_date)
    group by study_id
),
verification as (
    select study_id, sum(ctq_verified_within_sla) / nullif(sum(ctq_visits_due), 0) as sdv_in_sla
    from marts.kpi_verification_timeliness group by study_id
),
payment as (
    select study_id, sum(paid_within_sla) / nullif(sum(payments_due), 0) as paid_in_sla
    from marts.kpi_event_to_payable group by study_id
),
forecast as (
    select study_id, sum(abs(actual_amount - forecast_amount)) / nullif(sum(abs(actual_amount)), 0) as wape_lag1
    from marts.kpi_forecast_accuracy where lag_months = 1 group by study_id
),
discrepancies as (
    select study_id, count(*) filter (where status <> 'MATCH') as disagreements
    from marts.rpt_milestone_discrepancies group by study_id
)
select
    studies.study_id as study,
    startup.pf_to_country_sponsor as "PF->ctry days (sp)",
    startup.pf_to_country_cro as "PF->ctry days (cro)",
    startup.site_to_fpi_cro as "site->FPI days",
    coalesce(enrollment.randomized || ' / ' || enrollment.planned, '-') as "randomized / plan",
    round(100 * verification.sdv_in_sla) as "SDV in SLA %",
    round(100 * payment.paid_in_sla) as "paid in SLA %",
    round(100 * forecast.wape_lag1) as "WAPE lag1 %",
    coalesce(discrepancies.disagreements, 0) as "disagreements"
from marts.dim_study as studies
left join startup using (study_id)
left join enrollment using (study_id)
left join verification using (study_id)
left join payment using (study_id)
left join forecast using (study_id)
left join discrepancies using (study_id)
order by studies.study_id
"""

OPERATIONS_SUMMARY = """
with readiness as (
    select
        study_id,
        count(*) filter (where pack_state = 'READY') as ready,
        count(*) filter (where pack_state = 'IN_PROGRESS') as in_progress,
        count(*) filter (where pack_state = 'PLANNED') as planned,
        median(days_in_state) filter (where pack_state = 'IN_PROGRESS') as days_in_progress
    from marts.kpi_site_readiness
    where perspective = 'cro'
    group by study_id
),
deviations as (
    select
        study_id,
        cast(sum(open_now) as bigint) as open_now,
        cast(sum(important_open) as bigint) as important_open,
        cast(sum(open_over_30_days) as bigint) as over_30
    from marts.kpi_deviations group by study_id
),
risks as (
    select
        study_id,
        count(*) filter (where is_open) as open_risks,
        count(*) filter (where is_open and severity in ('HIGH', 'CRITICAL')) as high_open
    from marts.kpi_risks group by study_id
),
closeout as (
    select
        study_id,
        max(case when perspective = 'sponsor' then closeout_state end) as closeout_sponsor,
        max(case when perspective = 'cro' then closeout_state end) as closeout_cro
    from marts.kpi_closeout group by study_id
)
select
    studies.study_id as study,
    coalesce(readiness.ready, 0) || ' / ' || coalesce(readiness.in_progress, 0) || ' / ' || coalesce(readiness.planned, 0)
        as "sites ready / in pack / planned",
    readiness.days_in_progress as "days in pack (median)",
    coalesce(deviations.open_now, 0) as "deviations open",
    coalesce(deviations.important_open, 0) as "important",
    coalesce(deviations.over_30, 0) as "open >30 d",
    coalesce(risks.open_risks, 0) as "risks open",
    coalesce(risks.high_open, 0) as "high/critical",
    closeout.closeout_sponsor || ' / ' || closeout.closeout_cro as "close-out (sp / cro)"
from marts.dim_study as studies
left join readiness using (study_id)
left join deviations using (study_id)
left join risks using (study_id)
left join closeout using (study_id)
order by studies.study_id
"""

HELD_SUMMARY = """
select stage, feed, rule, count(*) as rows_held
from marts.quarantined_rows
group by stage, feed, rule
order by rows_held desc, stage, feed, rule
limit 12
"""


def summary(warehouse: Path) -> str:
    with connect(warehouse, read_only=True) as con:
        as_of = con.execute("select as_of_date from intermediate.int_as_of_date").fetchall()[0][0]
        ingest = con.execute(INGEST_SUMMARY).df()
        studies = con.execute(STUDY_SUMMARY).df()
        operations = con.execute(OPERATIONS_SUMMARY).df()
        held = con.execute(HELD_SUMMARY).df()
        waiting = con.execute(
            "select source || '/' || file_name as delivery, rows_kept, held_reason from marts.held_deliveries "
            "where status = 'held' order by held_at, delivery_id"
        ).df()
        rejections = con.execute(
            "select source || '/' || file_name as delivery, reason from audit.delivery_ledger "
            "where status = 'rejected' order by extract_at, source, file_name"
        ).df()
    parts = [
        f"Warehouse {warehouse} (as of {as_of})",
        _section("Deliveries by source", ingest),
        _section("KPIs per study (marts.kpi_*; PF = protocol final, sp = sponsor view)", studies),
        _section("Readiness and risk per study (CRO view: kpi_site_readiness, kpi_deviations, kpi_risks, kpi_closeout)", operations),
        _section("Rows held back, by reason (marts.quarantined_rows, marts.mapping_gaps)", held),
    ]
    if not waiting.empty:
        parts.append(_section("Held deliveries, waiting for a corrected file or a release (cg-release list)", waiting))
    if not rejections.empty:
        parts.append(_section("Rejected deliveries", rejections))
    return "\n\n".join(parts)


def _section(title: str, frame: pd.DataFrame) -> str:
    body = frame.to_string(index=False, na_rep="-", float_format=lambda value: f"{value:,.1f}")
    return f"{title}\n{'-' * len(title)}\n{body}"


def published_files(publish_dir: Path) -> str:
    """Each audience's published database and Parquet folder, its build, and how to query one."""
    databases = sorted(publish_dir.glob("*.duckdb"))
    lines = []
    for database in databases:
        with duckdb.connect(str(database), read_only=True) as con:
            build_id, tables = con.execute("select any_value(build_id), count(*) filter (where item = 'table') from _published").fetchall()[0]
        lines.append(f"  {database}  ({tables} tables, build {build_id}; Parquet: {publish_dir / database.stem}/*.parquet)")
    title = f"Published files, one read-only view per audience ({publish_dir})"
    query = "select study_id, perspective, days_protocol_final_to_fpi from kpi_study_startup order by 1, 2"
    example = (
        "Query one from any DuckDB 1.1+ client, BI tool or notebook, e.g.:\n"
        f"  {Path(sys.executable).parent / 'python'} -c \"import duckdb; "
        f"duckdb.connect('{publish_dir / 'sponsor.duckdb'}', read_only=True).sql('{query}').show()\""
    )
    return "\n".join([title, "-" * len(title), *(lines or ["  none yet"]), "", example])
