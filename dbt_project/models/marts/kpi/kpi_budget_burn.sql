{#- Budget burn per study and month (docs/kpi-definitions.md): budget = total of the study's
    first (baseline) forecast version; actual_cum = CRO accruals up to the month;
    latest_forecast_total = total of the latest forecast version made by that month.
    Reporting currency; months from the baseline version to the as-of month. -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

version_totals as (
    select study_id, forecast_version_start, sum(amount_reporting) as version_total
    from {{ ref('fct_forecast') }}
    group by study_id, forecast_version_start
),

baselines as (
    select study_id, min(forecast_version_start) as baseline_version_start
    from version_totals
    group by study_id
),

months as (
    select baselines.study_id, calendar.month_start
    from baselines
    cross join as_of
    inner join {{ ref('int_calendar_months') }} as calendar
        on calendar.month_start >= baselines.baseline_version_start
        and calendar.month_start <= as_of.as_of_month
),

monthly_accruals as (
    select study_id, accrual_month_start, sum(amount_reporting) as accrued
    from {{ ref('fct_accruals') }}
    group by study_id, accrual_month_start
),

actual_cum as (
    select months.study_id, months.month_start, coalesce(sum(monthly_accruals.accrued), 0) as actual_cum
    from months
    left join monthly_accruals
        on months.study_id = monthly_accruals.study_id
        and monthly_accruals.accrual_month_start <= months.month_start
    group by months.study_id, months.month_start
),

latest_versions as (
    select months.study_id, months.month_start, max(version_totals.forecast_version_start) as latest_version_start
    from months
    inner join version_totals
        on months.study_id = version_totals.study_id
        and version_totals.forecast_version_start <= months.month_start
    group by months.study_id, months.month_start
),

final as (
    select
        -- grain
        'shared' as perspective,
        months.study_id,
        {{ month_label('months.month_start') }} as month,
        -- measures (reporting currency)
        cast(baseline.version_total as decimal(18, 2)) as budget_amount,
        cast(actual_cum.actual_cum as decimal(18, 2)) as actual_cum,
        cast(actual_cum.actual_cum / nullif(baseline.version_total, 0) as decimal(10, 4)) as burn_pct,
        cast(latest.version_total as decimal(18, 2)) as latest_forecast_total
    from months
    inner join baselines
        on months.study_id = baselines.study_id
    inner join version_totals as baseline
        on baselines.study_id = baseline.study_id
        and baselines.baseline_version_start = baseline.forecast_version_start
    inner join actual_cum
        on months.study_id = actual_cum.study_id
        and months.month_start = actual_cum.month_start
    inner join latest_versions
        on months.study_id = latest_versions.study_id
        and months.month_start = latest_versions.month_start
    inner join version_totals as latest
        on latest_versions.study_id = latest.study_id
        and latest_versions.latest_version_start = latest.forecast_version_start
)

select * from final
