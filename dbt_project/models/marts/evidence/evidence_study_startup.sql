{#- Every milestone record behind kpi_study_startup, per perspective and study: the
    records of each side that set the start and end of its cycles (the earliest
    PROTOCOL_FINAL, COUNTRY_READY, SITE_READY and FPI of the study) and that count its
    countries and sites ready; a later record of the same milestone sets nothing, and says
    which came first. The mart's values are these rows aggregated (meta `evidence` in
    _evidence_operations.yml). -#}
with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

milestones as (
    select
        milestones.*,
        min(milestones.milestone_date) over (
            partition by milestones.perspective, milestones.study_id, milestones.milestone_code
        ) as first_date
    from {{ ref('fct_milestone_events') }} as milestones
    where milestones.milestone_code in ('PROTOCOL_FINAL', 'COUNTRY_READY', 'SITE_READY', 'FPI')
),

roles as (
    select
        milestones.*,
        case when milestones.milestone_date = milestones.first_date then
            case milestones.milestone_code
                when 'PROTOCOL_FINAL' then 'protocol_final_date'
                when 'COUNTRY_READY' then 'first_country_ready_date'
                when 'SITE_READY' then 'first_site_ready_date'
                when 'FPI' then 'fpi_date'
            end
        end as sets_date,
        case
            when milestones.milestone_code = 'COUNTRY_READY' and milestones.country_code is not null
                then 'countries_ready (' || milestones.country_code || ')'
            when milestones.milestone_code = 'SITE_READY' and milestones.site_number is not null
                then 'sites_ready (' || milestones.site_number || ')'
        end as counts_in
    from milestones
),

final as (
    select
        -- grain of the KPI row it belongs to
        roles.perspective,
        roles.study_id,
        -- the record
        roles.country_code,
        roles.site_number,
        roles.subject_id,
        roles.milestone_code,
        roles.milestone_date,
        -- how the KPI counts it
        coalesce(roles.sets_date || coalesce('; ' || roles.counts_in, ''), roles.counts_in) as sets,
        coalesce(roles.sets_date, roles.counts_in) is not null as is_counted,
        case when coalesce(roles.sets_date, roles.counts_in) is null then
            'not_first: the first ' || roles.milestone_code || ' of the study is on ' || cast(roles.first_date as {{ dbt.type_string() }})
        end as exclusion_reason,
        {{ evidence_lineage('roles') }}
    from roles
    left join ledger
        on roles._delivery_id = ledger.delivery_id
)

select * from final
