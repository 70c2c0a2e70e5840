{#- Every record behind kpi_country_readiness, per perspective, study and country: the
    country's own COUNTRY_APPROVED and COUNTRY_READY records (the earliest of each sets
    its date), the sponsor's country plan row that gives its planned sites (in both
    perspectives), and the pack records of its sites (fct_site_packs), each carrying the
    state of its site's pack, by which the site is counted selected, in progress or ready.
    The mart's values are these rows aggregated (meta `evidence` in
    _evidence_operations.yml). -#}
with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

perspectives as (
    select 'sponsor' as perspective union all select 'cro' as perspective
),

country_milestones as (
    select
        milestones.*,
        min(milestones.milestone_date) over (
            partition by milestones.perspective, milestones.study_id, milestones.country_code, milestones.milestone_code
        ) as first_date
    from {{ ref('fct_milestone_events') }} as milestones
    where milestones.milestone_code in ('COUNTRY_APPROVED', 'COUNTRY_READY')
        and milestones.country_code is not null
        and milestones.site_number is null
),

country_records as (
    select
        perspective,
        study_id,
        country_code,
        'country_milestone' as record_kind,
        site_number,
        milestone_code,
        milestone_date,
        cast(null as integer) as planned_sites,
        cast(null as {{ dbt.type_string() }}) as site_pack_state,
        case when milestone_date = first_date then
            case milestone_code when 'COUNTRY_APPROVED' then 'approval_date' else 'country_ready_date' end
        end as sets,
        case when milestone_date <> first_date then
            'not_first: the first ' || milestone_code || ' in the country is on ' || cast(first_date as {{ dbt.type_string() }})
        end as exclusion_reason,
        _delivery_id,
        _row_number
    from country_milestones
),

plan_records as (
    select
        perspectives.perspective,
        plan.study_id,
        plan.country_code,
        'country_plan' as record_kind,
        cast(null as {{ dbt.type_string() }}) as site_number,
        cast(null as {{ dbt.type_string() }}) as milestone_code,
        cast(null as date) as milestone_date,
        cast(plan.planned_sites as integer) as planned_sites,
        cast(null as {{ dbt.type_string() }}) as site_pack_state,
        'sites_planned' as sets,
        cast(null as {{ dbt.type_string() }}) as exclusion_reason,
        plan._delivery_id,
        plan._row_number
    from {{ ref('fct_country_plan') }} as plan
    cross join perspectives
),

site_records as (
    select
        packs.perspective,
        packs.study_id,
        packs.country_code,
        'site_pack' as record_kind,
        packs.site_number,
        milestones.milestone_code,
        milestones.milestone_date,
        cast(null as integer) as planned_sites,
        packs.pack_state as site_pack_state,
        case
            when milestones.milestone_code = 'SITE_SELECTED' and packs.pack_state <> 'PLANNED'
                then 'sites_selected; sites_' || lower(packs.pack_state)
            when milestones.milestone_code = 'SITE_SELECTED' then 'sites_selected'
            when packs.pack_state <> 'PLANNED' then 'sites_' || lower(packs.pack_state)
        end as sets,
        cast(null as {{ dbt.type_string() }}) as exclusion_reason,
        milestones._delivery_id,
        milestones._row_number
    from {{ ref('fct_milestone_events') }} as milestones
    inner join {{ ref('fct_site_packs') }} as packs
        on milestones.perspective = packs.perspective
        and milestones.study_id = packs.study_id
        and milestones.site_number = packs.site_number
    where milestones.milestone_code in (
        'SITE_SELECTED', 'SITE_IRB_APPROVED', 'SITE_CONTRACT_SIGNED', 'SITE_SYSTEMS_READY', 'SITE_READY'
    )
        and packs.country_code is not null
),

records as (
    select * from country_records
    union all
    select * from plan_records
    union all
    select * from site_records
),

final as (
    select
        -- grain of the KPI row it belongs to
        records.perspective,
        records.study_id,
        records.country_code,
        -- the record
        records.record_kind,
        records.site_number,
        records.milestone_code,
        records.milestone_date,
        records.planned_sites,
        records.site_pack_state,
        -- how the KPI counts it
        records.sets,
        records.sets is not null as is_counted,
        records.exclusion_reason,
        {{ evidence_lineage('records') }}
    from records
    left join ledger
        on records._delivery_id = ledger.delivery_id
)

select * from final
