{#- Every record behind kpi_country_startup, per perspective, study and country: the
    milestone records of each side that set the start and end of its cycles (the earliest
    COUNTRY_READY, SITE_READY and FPI in the country) and that count its sites ready, and
    the sponsor's country plan row that gives its planned sites (in both perspectives); a
    later record of the same milestone sets nothing, and says which came first. The mart's
    values are these rows aggregated (meta `evidence` in _evidence_operations.yml). -#}
with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

perspectives as (
    select 'sponsor' as perspective union all select 'cro' as perspective
),

milestones as (
    select
        milestones.*,
        min(milestones.milestone_date) over (
            partition by milestones.perspective, milestones.study_id, milestones.country_code, milestones.milestone_code
        ) as first_date
    from {{ ref('fct_milestone_events') }} as milestones
    where milestones.milestone_code in ('COUNTRY_READY', 'SITE_READY', 'FPI')
        and milestones.country_code is not null
),

milestone_records as (
    select
        perspective,
        study_id,
        country_code,
        'milestone' as record_kind,
        site_number,
        subject_id,
        milestone_code,
        milestone_date,
        cast(null as integer) as planned_sites,
        case when milestone_date = first_date then
            case milestone_code
                when 'COUNTRY_READY' then 'country_ready_date'
                when 'SITE_READY' then 'first_site_ready_date'
                when 'FPI' then 'fpi_date'
            end
        end as sets_date,
        case when milestone_code = 'SITE_READY' and site_number is not null then 'sites_ready (' || site_number || ')' end as counts_in,
        first_date,
        _delivery_id,
        _row_number
    from milestones
),

plan_records as (
    select
        perspectives.perspective,
        plan.study_id,
        plan.country_code,
        'country_plan' as record_kind,
        cast(null as {{ dbt.type_string() }}) as site_number,
        cast(null as {{ dbt.type_string() }}) as subject_id,
        cast(null as {{ dbt.type_string() }}) as milestone_code,
        cast(null as date) as milestone_date,
        cast(plan.planned_sites as integer) as planned_sites,
        'sites_planned' as sets_date,
        cast(null as {{ dbt.type_string() }}) as counts_in,
        cast(null as date) as first_date,
        plan._delivery_id,
        plan._row_number
    from {{ ref('fct_country_plan') }} as plan
    cross join perspectives
),

records as (
    select * from milestone_records
    union all
    select * from plan_records
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
        records.subject_id,
        records.milestone_code,
        records.milestone_date,
        records.planned_sites,
        -- how the KPI counts it
        coalesce(records.sets_date || coalesce('; ' || records.counts_in, ''), records.counts_in) as sets,
        coalesce(records.sets_date, records.counts_in) is not null as is_counted,
        case when coalesce(records.sets_date, records.counts_in) is null then
            'not_first: the first ' || records.milestone_code || ' in the country is on ' || cast(records.first_date as {{ dbt.type_string() }})
        end as exclusion_reason,
        {{ evidence_lineage('records') }}
    from records
    left join ledger
        on records._delivery_id = ledger.delivery_id
)

select * from final
