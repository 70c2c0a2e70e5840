{#- Accruals against invoices per study, month and cost bucket (docs/kpi-definitions.md):
    accrued from CRO accruals, invoiced (by invoice date) and paid (by paid date) from
    the sponsor's non-disputed invoices; cumulative, reporting currency. Every bucket the
    study forecast, accrued or invoiced has a row for every month from the baseline
    forecast version (or the first accrual or invoice, if earlier) to the as-of month. -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

accrued as (
    select study_id, cost_bucket_code, accrual_month_start as month_start, sum(amount_reporting) as amount
    from {{ ref('fct_accruals') }}
    group by study_id, cost_bucket_code, accrual_month_start
),

invoices as (
    select * from {{ ref('fct_invoices') }} where invoice_status <> 'DISPUTED'
),

invoiced as (
    select study_id, cost_bucket_code, {{ dbt.date_trunc('month', 'invoice_date') }} as month_start, sum(amount_reporting) as amount
    from invoices
    group by study_id, cost_bucket_code, {{ dbt.date_trunc('month', 'invoice_date') }}
),

paid as (
    select study_id, cost_bucket_code, {{ dbt.date_trunc('month', 'paid_date') }} as month_start, sum(amount_reporting) as amount
    from invoices
    where invoice_status = 'PAID' and paid_date is not null
    group by study_id, cost_bucket_code, {{ dbt.date_trunc('month', 'paid_date') }}
),

forecast as (
    select study_id, cost_bucket_code, forecast_version_start as month_start from {{ ref('fct_forecast') }}
),

bases as (
    select study_id, cost_bucket_code, month_start from forecast
    union all
    select study_id, cost_bucket_code, month_start from accrued
    union all
    select study_id, cost_bucket_code, month_start from invoiced
),

study_ranges as (
    select study_id, min(month_start) as first_month
    from bases
    group by study_id
),

study_buckets as (
    select distinct study_id, cost_bucket_code from bases
),

months as (
    select study_buckets.study_id, study_buckets.cost_bucket_code, calendar.month_start
    from study_buckets
    inner join study_ranges
        on study_buckets.study_id = study_ranges.study_id
    cross join as_of
    inner join {{ ref('int_calendar_months') }} as calendar
        on calendar.month_start >= study_ranges.first_month
        and calendar.month_start <= as_of.as_of_month
),

monthly as (
    select
        months.study_id,
        months.cost_bucket_code,
        months.month_start,
        coalesce(accrued.amount, 0) as accrued,
        coalesce(invoiced.amount, 0) as invoiced,
        coalesce(paid.amount, 0) as paid
    from months
    left join accrued
        on months.study_id = accrued.study_id
        and months.cost_bucket_code = accrued.cost_bucket_code
        and months.month_start = accrued.month_start
    left join invoiced
        on months.study_id = invoiced.study_id
        and months.cost_bucket_code = invoiced.cost_bucket_code
        and months.month_start = invoiced.month_start
    left join paid
        on months.study_id = paid.study_id
        and months.cost_bucket_code = paid.cost_bucket_code
        and months.month_start = paid.month_start
),

cumulated as (
    select
        study_id,
        cost_bucket_code,
        month_start,
        {%- for measure in ['accrued', 'invoiced', 'paid'] %}
        sum({{ measure }}) over (
            partition by study_id, cost_bucket_code order by month_start rows between unbounded preceding and current row
        ) as {{ measure }}_cum{{ ',' if not loop.last }}
        {%- endfor %}
    from monthly
),

final as (
    select
        -- grain
        'shared' as perspective,
        study_id,
        {{ month_label('month_start') }} as month,
        cost_bucket_code as cost_bucket,
        -- measures (reporting currency)
        cast(accrued_cum as decimal(18, 2)) as accrued_cum,
        cast(invoiced_cum as decimal(18, 2)) as invoiced_cum,
        cast(paid_cum as decimal(18, 2)) as paid_cum,
        cast(invoiced_cum / nullif(accrued_cum, 0) as decimal(10, 4)) as invoiced_to_accrued,
        cast(accrued_cum - invoiced_cum as decimal(18, 2)) as unbilled_amount
    from cumulated
)

select * from final
