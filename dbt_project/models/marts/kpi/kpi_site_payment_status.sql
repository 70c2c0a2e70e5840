{#- Site payments by status, and the ageing of what is payable and unpaid at the as-of
    date (days since payable_date), per study and country, in the reporting currency. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

payments as (
    select
        payments.study_id,
        payments.country_code,
        payments.payment_status,
        payments.amount_reporting,
        payments.payable_date,
        case when payments.paid_date <= as_of.as_of_date then payments.paid_date end as paid_date,
        {{ days_between('payments.payable_date', 'as_of.as_of_date') }} as days_since_payable
    from {{ ref('fct_site_payments') }} as payments
    cross join as_of
    where payments.payable_date <= as_of.as_of_date
),

classified as (
    select
        payments.*,
        (paid_date is null and payment_status <> 'HELD') as is_unpaid
    from payments
),

final as (
    select
        -- grain
        'shared' as perspective,
        study_id,
        country_code,
        -- counts and amounts (reporting currency)
        cast(count(*) as integer) as payable_count,
        cast(sum(amount_reporting) as decimal(18, 2)) as payable_amount,
        cast(count(paid_date) as integer) as paid_count,
        cast(coalesce(sum(case when paid_date is not null then amount_reporting end), 0) as decimal(18, 2)) as paid_amount,
        cast(count(case when payment_status = 'HELD' then 1 end) as integer) as held_count,
        -- unpaid ageing (days since payable at the as-of date)
        cast(coalesce(sum(case when is_unpaid and days_since_payable <= 30 then amount_reporting end), 0) as decimal(18, 2)) as unpaid_0_30,
        cast(coalesce(sum(case when is_unpaid and days_since_payable between 31 and 60 then amount_reporting end), 0) as decimal(18, 2)) as unpaid_31_60,
        cast(coalesce(sum(case when is_unpaid and days_since_payable between 61 and 90 then amount_reporting end), 0) as decimal(18, 2)) as unpaid_61_90,
        cast(coalesce(sum(case when is_unpaid and days_since_payable > 90 then amount_reporting end), 0) as decimal(18, 2)) as unpaid_over_90
    from classified
    group by study_id, country_code
)

select * from final
