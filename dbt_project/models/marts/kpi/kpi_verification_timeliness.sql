{#- Source-data verification timeliness of critical-to-quality visits, per study and
    country (docs/kpi-definitions.md). A CTQ visit is due once visit_date + SLA <= as-of; it
    is within SLA when verified no more than SLA days after the visit. -#}
{%- set sla = var('verification_sla_days') %}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

ctq_visits as (
    select
        visits.study_id,
        visits.country_code,
        visits.visit_date,
        case when visits.sdv_date <= as_of.as_of_date then visits.sdv_date end as sdv_date,
        {{ dbt.dateadd('day', sla, 'visits.visit_date') }} <= as_of.as_of_date as is_due
    from {{ ref('fct_subject_visits') }} as visits
    cross join as_of
    where visits.is_ctq
        and visits.visit_date <= as_of.as_of_date
),

measured as (
    select
        ctq_visits.*,
        {{ days_between('visit_date', 'sdv_date') }} as days_to_verify
    from ctq_visits
),

final as (
    select
        -- grain
        'shared' as perspective,
        study_id,
        country_code,
        -- measures
        cast(count(case when is_due then 1 end) as integer) as ctq_visits_due,
        cast(count(case when is_due and days_to_verify <= {{ sla }} then 1 end) as integer) as ctq_verified_within_sla,
        cast(
            1.0 * count(case when is_due and days_to_verify <= {{ sla }} then 1 end)
            / nullif(count(case when is_due then 1 end), 0)
            as decimal(10, 4)
        ) as pct_within_sla,
        cast({{ median('days_to_verify') }} as decimal(10, 1)) as median_days_to_verify,
        cast(count(case when is_due and sdv_date is null then 1 end) as integer) as ctq_open_overdue,
        cast(count(sdv_date) as integer) as ctq_visits_verified,
        {{ sla }} as verification_sla_days
    from measured
    group by study_id, country_code
)

select * from final
