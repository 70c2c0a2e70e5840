{#- Site payments by status, and the ageing of what is payable and unpaid at the as-of
    date (days since payable_date), per study and country, in the reporting currency
    (docs/kpi-definitions.md). A held payment reached payable: it counts in payable and
    held, and stays out of the unpaid ageing while held. Every planned country has a row,
    with counts and amounts 0 while nothing there is payable. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

payments as (
    select
        payments.study_id,
        payments.country_code,
        payments.payment_status,
        payments.amount_reporting,
        case when payments.paid_date <= as_of.as_of_date then payments.paid_date end as paid_date,
        {{ days_between('payments.payable_date', 'as_of.as_of_date') }} as days_since_payable
    from {{ ref('fct_site_payments') }} as payments
    cross join as_of
    where payments.payable_date <= as_of.as_of_date
        or payments.payment_status = 'HELD'
),

classified as (
    select
        payments.*,
        (paid_date is null and payment_status <> 'HELD') as is_unpaid
    from payments
),

per_country as (
    select
        study_id,
        country_code,
        count(*) as payable_count,
        sum(amount_reporting) as payable_amount,
        count(paid_date) as paid_count,
        sum(case when paid_date is not null then amount_reporting end) as paid_amount,
        count(case when payment_status = 'HELD' then 1 end) as held_count,
        sum(case when is_unpaid and days_since_payable <= 30 then amount_reporting end) as unpaid_0_30,
        sum(case when is_unpaid and days_since_payable between 31 and 60 then amount_reporting end) as unpaid_31_60,
        sum(case when is_unpaid and days_since_payable between 61 and 90 then amount_reporting end) as unpaid_61_90,
        sum(case when is_unpaid and days_since_payable > 90 then amount_reporting end) as unpaid_over_90
    from classified
    group by study_id, country_code
),

study_countries as (
    select study_id, country_code from {{ ref('fct_country_plan') }}
    union
    select study_id, country_code from per_country
),

final as (
    select
        -- grain
        'shared' as perspective,
        study_countries.study_id,
        study_countries.country_code,
        -- counts and amounts (reporting currency)
        cast(coalesce(per_country.payable_count, 0) as integer) as payable_count,
        cast(coalesce(per_country.payable_amount, 0) as decimal(18, 2)) as payable_amount,
        cast(coalesce(per_country.paid_count, 0) as integer) as paid_count,
        cast(coalesce(per_country.paid_amount, 0) as decimal(18, 2)) as paid_amount,
        cast(coalesce(per_country.held_count, 0) as integer) as held_count,
        -- unpaid ageing (days since payable at the as-of date)
        cast(coalesce(per_country.unpaid_0_30, 0) as decimal(18, 2)) as unpaid_0_30,
        cast(coalesce(per_country.unpaid_31_60, 0) as decimal(18, 2)) as unpaid_31_60,
        cast(coalesce(per_country.unpaid_61_90, 0) as decimal(18, 2)) as unpaid_61_90,
        cast(coalesce(per_country.unpaid_over_90, 0) as decimal(18, 2)) as unpaid_over_90
    from study_countries
    left join per_country
        on study_countries.study_id = per_country.study_id
        and study_countries.country_code = per_country.country_code
)

select * from final
