{#- Every site payment behind kpi_site_payment_status, per study and country: whether it
    is counted (payable by the as-of date, or held), paid, held, unpaid and in which ageing
    bucket, why it is left out otherwise, and the delivery it came in. The mart's measures
    are these rows aggregated (meta `evidence` in _evidence.yml). -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

payments as (
    select
        payments.*,
        case when payments.paid_date <= as_of.as_of_date then payments.paid_date end as paid_date_known,
        (payments.payable_date <= as_of.as_of_date or payments.payment_status = 'HELD') as is_counted,
        {{ days_between('payments.payable_date', 'as_of.as_of_date') }} as days_since_payable
    from {{ ref('fct_site_payments') }} as payments
    cross join as_of
),

classified as (
    select
        payments.*,
        payments.is_counted and payments.paid_date_known is null and payments.payment_status <> 'HELD' as is_unpaid
    from payments
),

final as (
    select
        -- grain of the KPI row it belongs to
        classified.study_id,
        classified.country_code,
        -- the record
        classified.payment_id,
        classified.site_number,
        classified.subject_id,
        classified.payment_status,
        classified.payable_date,
        classified.paid_date_known as paid_date,
        classified.amount,
        classified.currency,
        classified.amount_reporting,
        -- how the KPI counts it
        classified.is_counted,
        classified.is_counted and classified.paid_date_known is not null as is_paid,
        classified.is_counted and classified.payment_status = 'HELD' as is_held,
        classified.is_unpaid,
        case when classified.is_unpaid then
            case
                when classified.days_since_payable <= 30 then '0_30'
                when classified.days_since_payable <= 60 then '31_60'
                when classified.days_since_payable <= 90 then '61_90'
                else 'over_90'
            end
        end as unpaid_bucket,
        case
            when not classified.is_counted then 'not_payable_yet: payable on ' || coalesce(cast(classified.payable_date as {{ dbt.type_string() }}), 'no date') || ', after the as-of date'
        end as exclusion_reason,
        {{ evidence_lineage('classified') }}
    from classified
    left join ledger
        on classified._delivery_id = ledger.delivery_id
)

select * from final
