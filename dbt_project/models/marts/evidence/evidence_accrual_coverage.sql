{#- Every accrual and invoice behind kpi_accrual_coverage, under each KPI row (study, month,
    cost bucket) it counts in: the measures are cumulative, so a record counts in its own
    month and every later one up to the as-of month. An accrual counts as accrued, a
    non-disputed invoice as invoiced from its invoice month and, once paid, as paid from
    its paid month; a disputed invoice is listed, left out, with why. The CRO's internal
    cost of an accrual is CRO-internal (_evidence.yml), as in fct_accruals. -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

accruals as (
    select
        study_id,
        cost_bucket_code,
        accrual_month_start as counts_from,
        'accrual' as record_kind,
        rate_code || ' ' || accrual_month as record_id,
        'accrued' as counted_as,
        cast(null as {{ dbt.type_string() }}) as exclusion_reason,
        amount,
        currency,
        amount_reporting,
        internal_cost,
        _delivery_id,
        _row_number
    from {{ ref('fct_accruals') }}
),

invoices as (
    select
        study_id,
        cost_bucket_code,
        {{ dbt.date_trunc('month', 'invoice_date') }} as counts_from,
        'invoice' as record_kind,
        invoice_id as record_id,
        'invoiced' as counted_as,
        case when invoice_status = 'DISPUTED' then 'disputed: a disputed invoice counts neither as invoiced nor as paid' end as exclusion_reason,
        amount,
        currency,
        amount_reporting,
        cast(null as decimal(18, 2)) as internal_cost,
        _delivery_id,
        _row_number
    from {{ ref('fct_invoices') }}
),

invoice_payments as (
    select
        study_id,
        cost_bucket_code,
        {{ dbt.date_trunc('month', 'paid_date') }} as counts_from,
        'invoice' as record_kind,
        invoice_id as record_id,
        'paid' as counted_as,
        cast(null as {{ dbt.type_string() }}) as exclusion_reason,
        amount,
        currency,
        amount_reporting,
        cast(null as decimal(18, 2)) as internal_cost,
        _delivery_id,
        _row_number
    from {{ ref('fct_invoices') }}
    where invoice_status = 'PAID' and paid_date is not null
),

records as (
    select * from accruals
    union all
    select * from invoices
    union all
    select * from invoice_payments
),

under_kpi_rows as (
    select
        records.*,
        calendar.month_start
    from records
    cross join as_of
    inner join {{ ref('int_calendar_months') }} as calendar
        on calendar.month_start >= records.counts_from
        and calendar.month_start <= as_of.as_of_month
),

final as (
    select
        -- grain of the KPI row it belongs to
        under_kpi_rows.study_id,
        {{ month_label('under_kpi_rows.month_start') }} as month,
        under_kpi_rows.cost_bucket_code as cost_bucket,
        -- the record
        under_kpi_rows.record_kind,
        under_kpi_rows.record_id,
        {{ month_label('under_kpi_rows.counts_from') }} as counts_from_month,
        under_kpi_rows.amount,
        under_kpi_rows.currency,
        under_kpi_rows.amount_reporting,
        under_kpi_rows.internal_cost,
        -- how the KPI counts it
        under_kpi_rows.counted_as,
        under_kpi_rows.exclusion_reason is null as is_counted,
        under_kpi_rows.exclusion_reason,
        {{ evidence_lineage('under_kpi_rows') }}
    from under_kpi_rows
    left join ledger
        on under_kpi_rows._delivery_id = ledger.delivery_id
)

select * from final
