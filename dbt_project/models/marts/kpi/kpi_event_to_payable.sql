{#- From the event that earns a site payment to the payment, per study and country
    (docs/kpi-definitions.md). A payable visit becomes finance-eligible on its SDV date; it
    is due for payment once sdv_date + payment SLA <= as-of; paid within SLA when paid
    no more than SLA days after eligibility. Every planned country has a row, with counts
    0 and medians and ratio null while nothing there is eligible. -#}
{%- set sla = var('payment_sla_days') %}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

eligible as (
    select
        visits.cro_id,
        visits.cro_study_ref,
        visits.cro_site_code,
        visits.subject_id,
        visits.cro_visit_code,
        visits.study_id,
        visits.country_code,
        visits.sdv_date as eligible_date
    from {{ ref('fct_subject_visits') }} as visits
    cross join as_of
    where visits.is_payable
        and visits.sdv_date <= as_of.as_of_date
),

payments as (
    select
        cro_id,
        cro_study_ref,
        cro_site_code,
        subject_id,
        cro_visit_code,
        min(payable_date) as payable_date,
        min(paid_date) as paid_date
    from {{ ref('fct_site_payments') }}
    group by cro_id, cro_study_ref, cro_site_code, subject_id, cro_visit_code
),

joined as (
    select
        eligible.study_id,
        eligible.country_code,
        eligible.eligible_date,
        case when payments.payable_date <= as_of.as_of_date then payments.payable_date end as payable_date,
        case when payments.paid_date <= as_of.as_of_date then payments.paid_date end as paid_date,
        {{ dbt.dateadd('day', sla, 'eligible.eligible_date') }} <= as_of.as_of_date as is_due
    from eligible
    cross join as_of
    left join payments
        on eligible.cro_id = payments.cro_id
        and eligible.cro_study_ref = payments.cro_study_ref
        and eligible.cro_site_code = payments.cro_site_code
        and eligible.subject_id = payments.subject_id
        and eligible.cro_visit_code = payments.cro_visit_code
),

measured as (
    select
        joined.*,
        {{ days_between('eligible_date', 'payable_date') }} as days_eligible_to_payable,
        {{ days_between('payable_date', 'paid_date') }} as days_payable_to_paid,
        {{ days_between('eligible_date', 'paid_date') }} as days_eligible_to_paid
    from joined
),

per_country as (
    select
        study_id,
        country_code,
        count(*) as eligible_visits,
        {{ median('days_eligible_to_payable') }} as median_days_eligible_to_payable,
        {{ median('days_payable_to_paid') }} as median_days_payable_to_paid,
        count(case when is_due then 1 end) as payments_due,
        count(case when is_due and days_eligible_to_paid <= {{ sla }} then 1 end) as paid_within_sla
    from measured
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
        -- measures
        cast(coalesce(per_country.eligible_visits, 0) as integer) as eligible_visits,
        cast(per_country.median_days_eligible_to_payable as decimal(10, 1)) as median_days_eligible_to_payable,
        cast(per_country.median_days_payable_to_paid as decimal(10, 1)) as median_days_payable_to_paid,
        cast(coalesce(per_country.payments_due, 0) as integer) as payments_due,
        cast(coalesce(per_country.paid_within_sla, 0) as integer) as paid_within_sla,
        cast(1.0 * per_country.paid_within_sla / nullif(per_country.payments_due, 0) as decimal(10, 4)) as pct_paid_within_sla,
        {{ sla }} as payment_sla_days
    from study_countries
    left join per_country
        on study_countries.study_id = per_country.study_id
        and study_countries.country_code = per_country.country_code
)

select * from final
