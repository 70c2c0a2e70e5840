{#- Every record behind kpi_forecast_accuracy, under each KPI row (study, cost bucket,
    lag): for each closed month M before the as-of month, the CRO accruals of M (the
    actual) and the forecast lines for M in version M - lag (the forecast), with the
    delivery each came in. Accruals of a month that is not compared are listed, left out,
    with why (not closed yet, or no version made lag months before). WAPE sums |actual -
    forecast| per month, not per record: each compared month's totals are carried once, on
    its first record (`month_abs_error`, `month_abs_actual`), so that a sum over the
    records gives the KPI's. -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

lags as (
    select 1 as lag_months union all select 3 as lag_months
),

versions as (
    select distinct study_id, forecast_version_start from {{ ref('fct_forecast') }}
),

accruals as (
    select
        accruals.*,
        lags.lag_months,
        {{ dbt.dateadd('month', '-1 * lags.lag_months', 'accruals.accrual_month_start') }} as version_start_needed,
        accruals.accrual_month_start < as_of.as_of_month as is_closed_month
    from {{ ref('fct_accruals') }} as accruals
    cross join lags
    cross join as_of
),

actual_records as (
    select
        accruals.study_id,
        accruals.cost_bucket_code,
        accruals.lag_months,
        accruals.accrual_month_start as month_start,
        'accrual' as record_kind,
        accruals.rate_code || ' ' || accruals.accrual_month as record_id,
        cast(null as {{ dbt.type_string() }}) as forecast_version,
        'actual' as counted_as,
        case
            when not accruals.is_closed_month then 'not_closed: ' || accruals.accrual_month || ' is not before the as-of month'
            when versions.study_id is null then 'no_version: no forecast version made in '
                || {{ month_label('accruals.version_start_needed') }} || ', ' || cast(accruals.lag_months as {{ dbt.type_string() }})
                || ' months before ' || accruals.accrual_month
        end as exclusion_reason,
        accruals.amount,
        accruals.currency,
        accruals.amount_reporting,
        accruals._delivery_id,
        accruals._row_number
    from accruals
    left join versions
        on accruals.study_id = versions.study_id
        and accruals.version_start_needed = versions.forecast_version_start
),

compared_months as (
    select distinct study_id, cost_bucket_code, lag_months, month_start
    from actual_records
    where exclusion_reason is null
),

forecast_records as (
    select
        compared_months.study_id,
        compared_months.cost_bucket_code,
        compared_months.lag_months,
        compared_months.month_start,
        'forecast' as record_kind,
        forecast.forecast_version || ' ' || forecast.cost_bucket_code || ' ' || forecast.forecast_month as record_id,
        forecast.forecast_version,
        'forecast' as counted_as,
        cast(null as {{ dbt.type_string() }}) as exclusion_reason,
        forecast.amount,
        forecast.currency,
        forecast.amount_reporting,
        forecast._delivery_id,
        forecast._row_number
    from compared_months
    inner join {{ ref('fct_forecast') }} as forecast
        on compared_months.study_id = forecast.study_id
        and compared_months.cost_bucket_code = forecast.cost_bucket_code
        and compared_months.month_start = forecast.forecast_month_start
        and forecast.forecast_version_start = {{ dbt.dateadd('month', '-1 * compared_months.lag_months', 'compared_months.month_start') }}
),

records as (
    select * from actual_records
    union all
    select * from forecast_records
),

month_totals as (
    select
        records.*,
        sum(case when exclusion_reason is null and counted_as = 'actual' then amount_reporting end) over (
            partition by study_id, cost_bucket_code, lag_months, month_start
        ) as month_actual,
        coalesce(sum(case when exclusion_reason is null and counted_as = 'forecast' then amount_reporting end) over (
            partition by study_id, cost_bucket_code, lag_months, month_start
        ), 0) as month_forecast,
        row_number() over (
            partition by study_id, cost_bucket_code, lag_months, month_start
            order by counted_as, record_id, _delivery_id, _row_number
        ) as month_record_rank
    from records
),

final as (
    select
        -- grain of the KPI row it belongs to
        month_totals.study_id,
        month_totals.cost_bucket_code as cost_bucket,
        month_totals.lag_months,
        -- the record
        {{ month_label('month_totals.month_start') }} as month_compared,
        month_totals.record_kind,
        month_totals.record_id,
        month_totals.forecast_version,
        month_totals.amount,
        month_totals.currency,
        month_totals.amount_reporting,
        -- how the KPI counts it
        month_totals.counted_as,
        month_totals.exclusion_reason is null as is_counted,
        month_totals.exclusion_reason,
        case when month_totals.exclusion_reason is null and month_totals.month_record_rank = 1
            then cast(abs(month_totals.month_actual - month_totals.month_forecast) as decimal(18, 2))
        end as month_abs_error,
        case when month_totals.exclusion_reason is null and month_totals.month_record_rank = 1
            then cast(abs(month_totals.month_actual) as decimal(18, 2))
        end as month_abs_actual,
        {{ evidence_lineage('month_totals') }}
    from month_totals
    left join ledger
        on month_totals._delivery_id = ledger.delivery_id
)

select * from final
