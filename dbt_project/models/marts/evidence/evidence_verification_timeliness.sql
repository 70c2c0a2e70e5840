{#- Every subject visit behind kpi_verification_timeliness, per study and country: whether
    it is counted (a CTQ visit on or before the as-of date), due, verified, within the SLA
    or open and overdue, why it is left out otherwise, and the delivery it came in. The
    mart's measures are these rows aggregated (meta `evidence` in _evidence.yml). -#}
{%- set sla = var('verification_sla_days') %}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

visits as (
    select
        visits.*,
        case when visits.sdv_date <= as_of.as_of_date then visits.sdv_date end as sdv_date_known,
        visits.is_ctq and visits.visit_date <= as_of.as_of_date as is_counted,
        {{ dbt.dateadd('day', sla, 'visits.visit_date') }} <= as_of.as_of_date as is_past_sla
    from {{ ref('fct_subject_visits') }} as visits
    cross join as_of
),

judged as (
    select
        visits.*,
        {{ days_between('visits.visit_date', 'visits.sdv_date_known') }} as days_to_verify,
        visits.is_counted and visits.is_past_sla as is_due
    from visits
),

final as (
    select
        -- grain of the KPI row it belongs to
        judged.study_id,
        judged.country_code,
        -- the record
        judged.site_number,
        judged.subject_id,
        judged.visit_code,
        judged.visit_date,
        judged.sdv_date_known as sdv_date,
        judged.days_to_verify,
        -- how the KPI counts it
        judged.is_counted,
        judged.is_due,
        coalesce(judged.is_due and judged.days_to_verify <= {{ sla }}, false) as is_within_sla,
        judged.is_due and judged.sdv_date_known is null as is_open_overdue,
        case
            when not judged.is_ctq then 'not_ctq: ' || judged.visit_code || ' is not a critical-to-quality visit'
            when not judged.is_counted then 'after_as_of: visit on ' || cast(judged.visit_date as {{ dbt.type_string() }}) || ', after the as-of date'
            when not judged.is_due then 'not_yet_due: SLA of {{ sla }} days from ' || cast(judged.visit_date as {{ dbt.type_string() }}) || ' not over at the as-of date'
        end as exclusion_reason,
        {{ evidence_lineage('judged') }}
    from judged
    left join ledger
        on judged._delivery_id = ledger.delivery_id
)

select * from final
