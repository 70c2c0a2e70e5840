{#- Where the sponsor's and the CRO's milestone records disagree (docs/kpi-definitions.md):
    one row per milestone known to either side, compared at the level it is tracked:
    COUNTRY_READY per country, SITE_READY and the site start-up pack items (SITE_SELECTED,
    SITE_IRB_APPROVED, SITE_CONTRACT_SIGNED, SITE_SYSTEMS_READY) per site, FPI per study,
    country and site
    (first patient in each scope), close-out milestones per study. Both sides are
    rolled up by the same rule: the earliest record in scope. -#}
with milestones as (
    select * from {{ ref('fct_milestone_events') }}
    where milestone_code in (
        'COUNTRY_READY', 'SITE_READY', 'FPI', 'DB_LOCK', 'TMF_RECON', 'FIN_RECON',
        'SITE_SELECTED', 'SITE_IRB_APPROVED', 'SITE_CONTRACT_SIGNED', 'SITE_SYSTEMS_READY'
    )
),

scoped as (
    select perspective, study_id, country_code, cast(null as {{ dbt.type_string() }}) as site_number, milestone_code, milestone_date
    from milestones where milestone_code = 'COUNTRY_READY'
    union all
    select perspective, study_id, country_code, site_number, milestone_code, milestone_date
    from milestones
    where milestone_code in ('SITE_READY', 'SITE_SELECTED', 'SITE_IRB_APPROVED', 'SITE_CONTRACT_SIGNED', 'SITE_SYSTEMS_READY')
    union all
    select perspective, study_id, cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }}), milestone_code, milestone_date
    from milestones where milestone_code in ('FPI', 'DB_LOCK', 'TMF_RECON', 'FIN_RECON')
    union all
    select perspective, study_id, country_code, cast(null as {{ dbt.type_string() }}), milestone_code, milestone_date
    from milestones where milestone_code = 'FPI' and country_code is not null
    union all
    select perspective, study_id, country_code, site_number, milestone_code, milestone_date
    from milestones where milestone_code = 'FPI' and site_number is not null
),

rolled_up as (
    select
        study_id,
        country_code,
        site_number,
        milestone_code,
        min(case when perspective = 'sponsor' then milestone_date end) as sponsor_date,
        min(case when perspective = 'cro' then milestone_date end) as cro_date
    from scoped
    group by study_id, country_code, site_number, milestone_code
),

final as (
    select
        -- grain
        study_id,
        country_code,
        site_number as site_code,
        milestone_code as milestone,
        -- the two records
        sponsor_date,
        cro_date,
        cast({{ days_between('sponsor_date', 'cro_date') }} as integer) as days_apart,
        case
            when sponsor_date is null then 'ONLY_CRO'
            when cro_date is null then 'ONLY_SPONSOR'
            when sponsor_date = cro_date then 'MATCH'
            else 'DATE_MISMATCH'
        end as status
    from rolled_up
)

select * from final
