{#- Study start-up cycle times (docs/kpi-definitions.md), one definition for every
    perspective: protocol final -> first country ready -> first site ready -> FPI. -#}
with milestones as (
    select * from {{ ref('fct_milestone_events') }}
),

studies as (
    select study_id from {{ ref('dim_study') }}
),

perspectives as (
    select 'sponsor' as perspective union all select 'cro' as perspective
),

per_study as (
    select
        perspective,
        study_id,
        min(case when milestone_code = 'PROTOCOL_FINAL' then milestone_date end) as protocol_final_date,
        min(case when milestone_code = 'COUNTRY_READY' then milestone_date end) as first_country_ready_date,
        min(case when milestone_code = 'SITE_READY' then milestone_date end) as first_site_ready_date,
        min(case when milestone_code = 'FPI' then milestone_date end) as fpi_date,
        count(distinct case when milestone_code = 'COUNTRY_READY' then country_code end) as countries_ready,
        count(distinct case when milestone_code = 'SITE_READY' then site_number end) as sites_ready
    from milestones
    group by perspective, study_id
),

final as (
    select
        -- grain
        perspectives.perspective,
        studies.study_id,
        -- milestone dates
        per_study.protocol_final_date,
        per_study.first_country_ready_date,
        per_study.first_site_ready_date,
        per_study.fpi_date,
        -- cycle times (calendar days; null while the cycle is open)
        cast({{ days_between('per_study.protocol_final_date', 'per_study.first_country_ready_date') }} as integer)
            as days_protocol_final_to_first_country_ready,
        cast({{ days_between('per_study.first_country_ready_date', 'per_study.first_site_ready_date') }} as integer)
            as days_first_country_ready_to_first_site_ready,
        cast({{ days_between('per_study.first_site_ready_date', 'per_study.fpi_date') }} as integer)
            as days_first_site_ready_to_fpi,
        cast({{ days_between('per_study.protocol_final_date', 'per_study.fpi_date') }} as integer)
            as days_protocol_final_to_fpi,
        -- open cycles at the as-of date
        (per_study.protocol_final_date is not null and per_study.first_country_ready_date is null)
            as is_protocol_final_to_first_country_ready_open,
        (per_study.first_site_ready_date is not null and per_study.fpi_date is null)
            as is_first_site_ready_to_fpi_open,
        -- progress
        cast(coalesce(per_study.countries_ready, 0) as integer) as countries_ready,
        cast(coalesce(per_study.sites_ready, 0) as integer) as sites_ready
    from studies
    cross join perspectives
    left join per_study
        on perspectives.perspective = per_study.perspective
        and studies.study_id = per_study.study_id
)

select * from final
