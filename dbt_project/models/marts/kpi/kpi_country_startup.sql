{#- Country start-up cycle times (docs/kpi-definitions.md), one definition for every
    perspective: country ready -> first site ready -> first patient in. -#}
with milestones as (
    select * from {{ ref('fct_milestone_events') }}
    where country_code is not null
),

plan as (
    select study_id, country_code, planned_sites
    from {{ ref('fct_country_plan') }}
),

perspectives as (
    select 'sponsor' as perspective union all select 'cro' as perspective
),

{#- Every planned country of every study, plus any country where a milestone happened. -#}
study_countries as (
    select perspectives.perspective, plan.study_id, plan.country_code
    from plan
    cross join perspectives
    union
    select perspective, study_id, country_code
    from milestones
),

per_country as (
    select
        perspective,
        study_id,
        country_code,
        min(case when milestone_code = 'COUNTRY_READY' then milestone_date end) as country_ready_date,
        min(case when milestone_code = 'SITE_READY' then milestone_date end) as first_site_ready_date,
        min(case when milestone_code = 'FPI' then milestone_date end) as fpi_date,
        count(distinct case when milestone_code = 'SITE_READY' then site_number end) as sites_ready
    from milestones
    group by perspective, study_id, country_code
),

final as (
    select
        -- grain
        study_countries.perspective,
        study_countries.study_id,
        study_countries.country_code,
        -- milestone dates
        per_country.country_ready_date,
        per_country.first_site_ready_date,
        per_country.fpi_date,
        -- cycle times (calendar days; null while the cycle is open)
        cast({{ days_between('per_country.country_ready_date', 'per_country.first_site_ready_date') }} as integer)
            as days_country_ready_to_first_site_ready,
        cast({{ days_between('per_country.first_site_ready_date', 'per_country.fpi_date') }} as integer)
            as days_first_site_ready_to_fpi,
        -- open cycles: started, not ended by the as-of date
        (per_country.country_ready_date is not null and per_country.first_site_ready_date is null)
            as is_country_ready_to_first_site_ready_open,
        (per_country.first_site_ready_date is not null and per_country.fpi_date is null)
            as is_first_site_ready_to_fpi_open,
        -- sites
        cast(plan.planned_sites as integer) as sites_planned,
        cast(coalesce(per_country.sites_ready, 0) as integer) as sites_ready
    from study_countries
    left join per_country
        on study_countries.perspective = per_country.perspective
        and study_countries.study_id = per_country.study_id
        and study_countries.country_code = per_country.country_code
    left join plan
        on study_countries.study_id = plan.study_id
        and study_countries.country_code = plan.country_code
)

select * from final
