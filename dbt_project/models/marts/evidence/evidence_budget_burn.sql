{#- Every record behind kpi_budget_burn, under each KPI row (study, month) it counts in:
    the forecast lines of the study's baseline version (the budget), the lines of the
    latest version made by that month (the latest forecast total) and every CRO accrual up
    to that month (the actual, cumulative), each with the delivery it came in. A line of
    the baseline version is listed twice while the baseline is also the latest version. -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

forecast as (
    select * from {{ ref('fct_forecast') }}
),

baselines as (
    select study_id, min(forecast_version_start) as baseline_version_start
    from forecast
    group by study_id
),

kpi_rows as (
    select baselines.study_id, baselines.baseline_version_start, calendar.month_start
    from baselines
    cross join as_of
    inner join {{ ref('int_calendar_months') }} as calendar
        on calendar.month_start >= baselines.baseline_version_start
        and calendar.month_start <= as_of.as_of_month
),

latest_versions as (
    select kpi_rows.study_id, kpi_rows.month_start, max(forecast.forecast_version_start) as latest_version_start
    from kpi_rows
    inner join forecast
        on kpi_rows.study_id = forecast.study_id
        and forecast.forecast_version_start <= kpi_rows.month_start
    group by kpi_rows.study_id, kpi_rows.month_start
),

budget_lines as (
    select
        kpi_rows.study_id,
        kpi_rows.month_start,
        'forecast' as record_kind,
        'budget' as counted_as,
        forecast.forecast_version || ' ' || forecast.cost_bucket_code || ' ' || forecast.forecast_month as record_id,
        forecast.forecast_version,
        forecast.forecast_month as record_month,
        forecast.cost_bucket_code,
        forecast.amount,
        forecast.currency,
        forecast.amount_reporting,
        forecast._delivery_id,
        forecast._row_number
    from kpi_rows
    inner join forecast
        on kpi_rows.study_id = forecast.study_id
        and kpi_rows.baseline_version_start = forecast.forecast_version_start
),

latest_lines as (
    select
        latest_versions.study_id,
        latest_versions.month_start,
        'forecast' as record_kind,
        'latest_forecast' as counted_as,
        forecast.forecast_version || ' ' || forecast.cost_bucket_code || ' ' || forecast.forecast_month as record_id,
        forecast.forecast_version,
        forecast.forecast_month as record_month,
        forecast.cost_bucket_code,
        forecast.amount,
        forecast.currency,
        forecast.amount_reporting,
        forecast._delivery_id,
        forecast._row_number
    from latest_versions
    inner join forecast
        on latest_versions.study_id = forecast.study_id
        and latest_versions.latest_version_start = forecast.forecast_version_start
),

accruals as (
    select
        kpi_rows.study_id,
        kpi_rows.month_start,
        'accrual' as record_kind,
        'actual' as counted_as,
        accruals.rate_code || ' ' || accruals.accrual_month as record_id,
        cast(null as {{ dbt.type_string() }}) as forecast_version,
        accruals.accrual_month as record_month,
        accruals.cost_bucket_code,
        accruals.amount,
        accruals.currency,
        accruals.amount_reporting,
        accruals._delivery_id,
        accruals._row_number
    from kpi_rows
    inner join {{ ref('fct_accruals') }} as accruals
        on kpi_rows.study_id = accruals.study_id
        and accruals.accrual_month_start <= kpi_rows.month_start
),

records as (
    select * from budget_lines
    union all
    select * from latest_lines
    union all
    select * from accruals
),

final as (
    select
        -- grain of the KPI row it belongs to
        records.study_id,
        {{ month_label('records.month_start') }} as month,
        -- the record
        records.record_kind,
        records.record_id,
        records.forecast_version,
        records.record_month,
        records.cost_bucket_code as cost_bucket,
        records.amount,
        records.currency,
        records.amount_reporting,
        -- how the KPI counts it
        records.counted_as,
        {{ evidence_lineage('records') }}
    from records
    left join ledger
        on records._delivery_id = ledger.delivery_id
)

select * from final
