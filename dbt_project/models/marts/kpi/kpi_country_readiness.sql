{#- The country pack (docs/kpi-definitions.md, "Study operations marts"), one definition
    for every perspective: COUNTRY_APPROVED, then COUNTRY_READY, with the country's sites
    counted by the state of their own pack (fct_site_packs). The sponsor has no code
    for the approval: its view leaves approval_date null. `pack_state`: READY once the
    country is ready, IN_PROGRESS once approved or once any of its sites has a pack item
    done, else PLANNED. A row for every planned study-country, and for any country with a
    record. -#}
with milestones as (
    select * from {{ ref('fct_milestone_events') }}
    where milestone_code in ('COUNTRY_APPROVED', 'COUNTRY_READY')
        and country_code is not null
        and site_number is null
),

sites as (
    select * from {{ ref('fct_site_packs') }}
    where country_code is not null
),

plan as (
    select study_id, country_code, planned_sites
    from {{ ref('fct_country_plan') }}
),

perspectives as (
    select 'sponsor' as perspective union all select 'cro' as perspective
),

study_countries as (
    select perspectives.perspective, plan.study_id, plan.country_code
    from plan
    cross join perspectives
    union
    select perspective, study_id, country_code from milestones
    union
    select perspective, study_id, country_code from sites
),

per_country as (
    select
        perspective,
        study_id,
        country_code,
        min(case when milestone_code = 'COUNTRY_APPROVED' then milestone_date end) as approval_date,
        min(case when milestone_code = 'COUNTRY_READY' then milestone_date end) as country_ready_date
    from milestones
    group by perspective, study_id, country_code
),

site_counts as (
    select
        perspective,
        study_id,
        country_code,
        sum(case when selected_date is not null then 1 else 0 end) as sites_selected,
        sum(case when pack_state = 'IN_PROGRESS' then 1 else 0 end) as sites_in_progress,
        sum(case when pack_state = 'READY' then 1 else 0 end) as sites_ready
    from sites
    group by perspective, study_id, country_code
),

final as (
    select
        -- grain
        study_countries.perspective,
        study_countries.study_id,
        study_countries.country_code,
        -- country pack
        per_country.approval_date,
        per_country.country_ready_date,
        -- sites
        cast(plan.planned_sites as integer) as sites_planned,
        cast(coalesce(site_counts.sites_selected, 0) as integer) as sites_selected,
        cast(coalesce(site_counts.sites_in_progress, 0) as integer) as sites_in_progress,
        cast(coalesce(site_counts.sites_ready, 0) as integer) as sites_ready,
        -- state
        case
            when per_country.country_ready_date is not null then 'READY'
            when per_country.approval_date is not null
                or coalesce(site_counts.sites_in_progress, 0) + coalesce(site_counts.sites_ready, 0) > 0
                then 'IN_PROGRESS'
            else 'PLANNED'
        end as pack_state
    from study_countries
    left join per_country
        on study_countries.perspective = per_country.perspective
        and study_countries.study_id = per_country.study_id
        and study_countries.country_code = per_country.country_code
    left join site_counts
        on study_countries.perspective = site_counts.perspective
        and study_countries.study_id = site_counts.study_id
        and study_countries.country_code = site_counts.country_code
    left join plan
        on study_countries.study_id = plan.study_id
        and study_countries.country_code = plan.country_code
)

select * from final
