{#- Forecast accuracy per study, cost bucket and lag (docs/kpi-definitions.md): for each
    closed month M before the as-of month with an actual, the forecast made for M in
    version M - lag. Actual = CRO accruals for M in canonical cost buckets. A bucket the
    version did not forecast counts as a forecast of 0; months whose version does not
    exist are not compared. WAPE = sum|A-F| / sum|A|; bias = sum(F-A) / sum(A). -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

actuals as (
    select
        accruals.study_id,
        accruals.cost_bucket_code,
        accruals.accrual_month_start as month_start,
        sum(accruals.amount_reporting) as actual_amount
    from {{ ref('fct_accruals') }} as accruals
    cross join as_of
    where accruals.accrual_month_start < as_of.as_of_month
    group by accruals.study_id, accruals.cost_bucket_code, accruals.accrual_month_start
),

forecasts as (
    select
        study_id,
        cost_bucket_code,
        forecast_version_start,
        forecast_month_start,
        sum(amount_reporting) as forecast_amount
    from {{ ref('fct_forecast') }}
    group by study_id, cost_bucket_code, forecast_version_start, forecast_month_start
),

versions as (
    select distinct study_id, forecast_version_start from {{ ref('fct_forecast') }}
),

lags as (
    select 1 as lag_months union all select 3 as lag_months
),

compared as (
    select
        actuals.study_id,
        actuals.cost_bucket_code,
        lags.lag_months,
        actuals.month_start,
        actuals.actual_amount,
        coalesce(forecasts.forecast_amount, 0) as forecast_amount
    from actuals
    cross join lags
    inner join versions
        on actuals.study_id = versions.study_id
        and versions.forecast_version_start = {{ dbt.dateadd('month', '-1 * lags.lag_months', 'actuals.month_start') }}
    left join forecasts
        on actuals.study_id = forecasts.study_id
        and actuals.cost_bucket_code = forecasts.cost_bucket_code
        and versions.forecast_version_start = forecasts.forecast_version_start
        and actuals.month_start = forecasts.forecast_month_start
),

final as (
    select
        -- grain
        'shared' as perspective,
        study_id,
        cost_bucket_code as cost_bucket,
        lag_months,
        -- measures (reporting currency)
        cast(count(*) as integer) as months_compared,
        cast(sum(actual_amount) as decimal(18, 2)) as actual_amount,
        cast(sum(forecast_amount) as decimal(18, 2)) as forecast_amount,
        cast(sum(abs(actual_amount - forecast_amount)) / nullif(sum(abs(actual_amount)), 0) as decimal(10, 4)) as wape,
        cast(sum(forecast_amount - actual_amount) / nullif(sum(actual_amount), 0) as decimal(10, 4)) as bias
    from compared
    group by study_id, cost_bucket_code, lag_months
)

select * from final
