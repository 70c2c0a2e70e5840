{#- Every milestone record behind rpt_milestone_discrepancies, under each row it is
    compared in (the scope its milestone is tracked at: an FPI record counts for its study,
    its country and its site): the sponsor's and the CRO's records, each side's earliest
    in scope giving its date, a later one giving none and saying which came first. The
    report's values are these rows aggregated (meta `evidence` in
    _evidence_operations.yml). -#}
with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

milestones as (
    select * from {{ ref('fct_milestone_events') }}
    where milestone_code in (
        'COUNTRY_READY', 'SITE_READY', 'FPI', 'DB_LOCK', 'TMF_RECON', 'FIN_RECON',
        'SITE_SELECTED', 'SITE_IRB_APPROVED', 'SITE_CONTRACT_SIGNED', 'SITE_SYSTEMS_READY'
    )
),

scoped as (
    select milestones.*, country_code as scope_country_code, cast(null as {{ dbt.type_string() }}) as scope_site_number
    from milestones where milestone_code = 'COUNTRY_READY'
    union all
    select milestones.*, country_code, site_number
    from milestones
    where milestone_code in ('SITE_READY', 'SITE_SELECTED', 'SITE_IRB_APPROVED', 'SITE_CONTRACT_SIGNED', 'SITE_SYSTEMS_READY')
    union all
    select milestones.*, cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }})
    from milestones where milestone_code in ('FPI', 'DB_LOCK', 'TMF_RECON', 'FIN_RECON')
    union all
    select milestones.*, country_code, cast(null as {{ dbt.type_string() }})
    from milestones where milestone_code = 'FPI' and country_code is not null
    union all
    select milestones.*, country_code, site_number
    from milestones where milestone_code = 'FPI' and site_number is not null
),

ranked as (
    select
        scoped.*,
        min(scoped.milestone_date) over (
            partition by scoped.study_id, scoped.scope_country_code, scoped.scope_site_number, scoped.milestone_code, scoped.perspective
        ) as first_date
    from scoped
),

final as (
    select
        -- grain of the report row it belongs to
        ranked.study_id,
        ranked.scope_country_code as country_code,
        ranked.scope_site_number as site_code,
        ranked.milestone_code as milestone,
        -- the record
        ranked.perspective,
        ranked.country_code as record_country_code,
        ranked.site_number as record_site_number,
        ranked.subject_id,
        ranked.milestone_date,
        -- how the report counts it
        case when ranked.milestone_date = ranked.first_date then ranked.perspective || '_date' end as sets,
        ranked.milestone_date = ranked.first_date as is_counted,
        case when ranked.milestone_date <> ranked.first_date then
            'not_first: the first ' || ranked.perspective || ' record in scope is on ' || cast(ranked.first_date as {{ dbt.type_string() }})
        end as exclusion_reason,
        {{ evidence_lineage('ranked') }}
    from ranked
    left join ledger
        on ranked._delivery_id = ledger.delivery_id
)

select * from final
