{#- Every record behind kpi_event_to_payable, per study and country: each payable visit
    (finance-eligible once verified by the as-of date; due for payment once its SDV date
    plus the payment SLA is past; paid within the SLA or not), and each site payment of
    such a visit, whose dates (the earliest payable and paid date of the visit's payments
    known at the as-of date) give the visit's days to payable and to paid. The mart's
    values are the visit rows aggregated (meta `evidence` in _evidence_operations.yml);
    the payment rows show where the visits' payment dates came from. -#}
{%- set sla = var('payment_sla_days') %}
{%- set visit_key = ['cro_id', 'cro_study_ref', 'cro_site_code', 'subject_id', 'cro_visit_code'] %}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

visits as (
    select
        visits.*,
        case when visits.sdv_date <= as_of.as_of_date then visits.sdv_date end as eligible_date
    from {{ ref('fct_subject_visits') }} as visits
    cross join as_of
    where visits.is_payable
),

payments as (
    select
        payments.*,
        case when payments.payable_date <= as_of.as_of_date then payments.payable_date end as payable_date_known,
        case when payments.paid_date <= as_of.as_of_date then payments.paid_date end as paid_date_known
    from {{ ref('fct_site_payments') }} as payments
    cross join as_of
),

paid_per_visit as (
    select
        {{ visit_key | join(', ') }},
        min(payable_date_known) as payable_date,
        min(paid_date_known) as paid_date
    from payments
    group by {{ visit_key | join(', ') }}
),

judged_visits as (
    select
        visits.*,
        paid_per_visit.payable_date,
        paid_per_visit.paid_date,
        visits.eligible_date is not null as is_eligible,
        {{ dbt.dateadd('day', sla, 'visits.eligible_date') }} <= as_of.as_of_date as is_due,
        {{ days_between('visits.eligible_date', 'paid_per_visit.payable_date') }} as days_eligible_to_payable,
        {{ days_between('paid_per_visit.payable_date', 'paid_per_visit.paid_date') }} as days_payable_to_paid,
        {{ days_between('visits.eligible_date', 'paid_per_visit.paid_date') }} as days_eligible_to_paid
    from visits
    cross join as_of
    left join paid_per_visit
        on {% for column in visit_key %}visits.{{ column }} = paid_per_visit.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
),

visit_records as (
    select
        study_id,
        country_code,
        'visit' as record_kind,
        site_number,
        subject_id,
        visit_code,
        cast(null as {{ dbt.type_string() }}) as payment_id,
        visit_date,
        eligible_date as sdv_date,
        payable_date,
        paid_date,
        days_eligible_to_payable,
        days_payable_to_paid,
        is_eligible as is_counted,
        coalesce(is_eligible and is_due, false) as is_due,
        coalesce(is_eligible and is_due and days_eligible_to_paid <= {{ sla }}, false) as is_paid_within_sla,
        case
            when not is_eligible then 'not_eligible: not verified (no SDV) by the as-of date'
            when not is_due then 'not_yet_due: payment SLA of {{ sla }} days from the SDV on ' || cast(eligible_date as {{ dbt.type_string() }}) || ' not over at the as-of date'
        end as exclusion_reason,
        _delivery_id,
        _row_number
    from judged_visits
),

payment_records as (
    select
        judged_visits.study_id,
        judged_visits.country_code,
        'site_payment' as record_kind,
        judged_visits.site_number,
        judged_visits.subject_id,
        judged_visits.visit_code,
        payments.payment_id,
        judged_visits.visit_date,
        judged_visits.eligible_date as sdv_date,
        payments.payable_date_known as payable_date,
        payments.paid_date_known as paid_date,
        cast(null as {{ dbt.type_bigint() }}) as days_eligible_to_payable,
        cast(null as {{ dbt.type_bigint() }}) as days_payable_to_paid,
        coalesce(
            judged_visits.is_eligible
            and (payments.payable_date_known = judged_visits.payable_date or payments.paid_date_known = judged_visits.paid_date),
            false
        ) as is_counted,
        false as is_due,
        false as is_paid_within_sla,
        case
            when not judged_visits.is_eligible then 'visit_not_eligible: its visit is not verified (no SDV) by the as-of date'
            when payments.payable_date_known is null and payments.paid_date_known is null
                then 'not_payable_yet: neither payable nor paid by the as-of date'
            when coalesce(payments.payable_date_known = judged_visits.payable_date or payments.paid_date_known = judged_visits.paid_date, false) = false
                then 'not_first: another payment of the visit was payable or paid earlier'
        end as exclusion_reason,
        payments._delivery_id,
        payments._row_number
    from payments
    inner join judged_visits
        on {% for column in visit_key %}payments.{{ column }} = judged_visits.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
),

records as (
    select * from visit_records
    union all
    select * from payment_records
),

final as (
    select
        -- grain of the KPI row it belongs to
        records.study_id,
        records.country_code,
        -- the record
        records.record_kind,
        records.site_number,
        records.subject_id,
        records.visit_code,
        records.payment_id,
        records.visit_date,
        records.sdv_date,
        records.payable_date,
        records.paid_date,
        records.days_eligible_to_payable,
        records.days_payable_to_paid,
        -- how the KPI counts it
        records.is_counted,
        records.is_due,
        records.is_paid_within_sla,
        records.exclusion_reason,
        {{ evidence_lineage('records') }}
    from records
    left join ledger
        on records._delivery_id = ledger.delivery_id
)

select * from final
