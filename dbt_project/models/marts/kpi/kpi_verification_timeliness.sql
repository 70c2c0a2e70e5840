{#- Source-data verification timeliness of critical-to-quality visits, per study and
    country (docs/kpi-definitions.md). A CTQ visit is due once visit_date + SLA <= as-of; it
    is within SLA when verified no more than SLA days after the visit. Every planned
    country has a row, with counts 0 and ratio and median null while it has no CTQ visit. -#}
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

per_country as (
    select
        study_id,
        country_code,
        count(case when is_due then 1 end) as ctq_visits_due,
        count(case when is_due and days_to_verify <= {{ sla }} then 1 end) as ctq_verified_within_sla,
        {{ median('days_to_verify') }} as median_days_to_verify,
        count(case when is_due and sdv_date is null then 1 end) as ctq_open_overdue,
        count(sdv_date) as ctq_visits_verified
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
        cast(coalesce(per_country.ctq_visits_due, 0) as integer) as ctq_visits_due,
        cast(coalesce(per_country.ctq_verified_within_sla, 0) as integer) as ctq_verified_within_sla,
        cast(
            1.0 * per_country.ctq_verified_within_sla / nullif(per_country.ctq_visits_due, 0) as decimal(10, 4)
        ) as pct_within_sla,
        cast(per_country.median_days_to_verify as decimal(10, 1)) as median_days_to_verify,
        cast(coalesce(per_country.ctq_open_overdue, 0) as integer) as ctq_open_overdue,
        cast(coalesce(per_country.ctq_visits_verified, 0) as integer) as ctq_visits_verified,
        {{ sla }} as verification_sla_days
    from study_countries
    left join per_country
        on study_countries.study_id = per_country.study_id
        and study_countries.country_code = per_country.country_code
)

select * from final
