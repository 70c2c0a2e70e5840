{#- Every milestone record behind kpi_site_readiness, per perspective and site: the pack
    items (SITE_SELECTED, SITE_IRB_APPROVED, SITE_CONTRACT_SIGNED, SITE_SYSTEMS_READY) and
    the SIV (SITE_READY) of the site, and the study's PROTOCOL_FINAL, which dates the state
    of a site with no item done (PLANNED). Each says which of the site's values it sets
    (the earliest record of an item sets its date and counts it done; the record that
    dates the site's state sets state_entered_date), or why it sets none. A voided item is
    gone from the facts, so it is not here either. The as-of date is on every row:
    days_in_state runs from state_entered_date to it. The mart's values are these rows
    aggregated (meta `evidence` in _evidence_operations.yml). -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

packs as (
    select * from {{ ref('fct_site_packs') }}
),

pack_records as (
    select
        packs.perspective,
        packs.study_id,
        packs.country_code,
        packs.site_number,
        packs.pack_state,
        packs.state_entered_date,
        milestones.milestone_code,
        milestones.milestone_date,
        milestones._delivery_id,
        milestones._row_number
    from {{ ref('fct_milestone_events') }} as milestones
    inner join packs
        on milestones.perspective = packs.perspective
        and milestones.study_id = packs.study_id
        and milestones.site_number = packs.site_number
    where milestones.milestone_code in (
        'SITE_SELECTED', 'SITE_IRB_APPROVED', 'SITE_CONTRACT_SIGNED', 'SITE_SYSTEMS_READY', 'SITE_READY'
    )
),

protocol_final_records as (
    select
        packs.perspective,
        packs.study_id,
        packs.country_code,
        packs.site_number,
        packs.pack_state,
        packs.state_entered_date,
        milestones.milestone_code,
        milestones.milestone_date,
        milestones._delivery_id,
        milestones._row_number
    from {{ ref('fct_milestone_events') }} as milestones
    inner join packs
        on milestones.perspective = packs.perspective
        and milestones.study_id = packs.study_id
    where milestones.milestone_code = 'PROTOCOL_FINAL'
),

records as (
    select * from pack_records
    union all
    select * from protocol_final_records
),

judged as (
    select
        records.*,
        min(records.milestone_date) over (
            partition by records.perspective, records.study_id, records.site_number, records.milestone_code
        ) as first_date,
        case records.milestone_code
            when 'SITE_SELECTED' then 'selected_date'
            when 'SITE_IRB_APPROVED' then 'irb_approved_date'
            when 'SITE_CONTRACT_SIGNED' then 'contract_signed_date'
            when 'SITE_SYSTEMS_READY' then 'systems_ready_date'
            when 'SITE_READY' then 'site_ready_date'
        end as date_column,
        case records.milestone_code
            when 'SITE_READY' then 'READY'
            when 'PROTOCOL_FINAL' then 'PLANNED'
            else 'IN_PROGRESS'
        end as dates_state
    from records
),

roles as (
    select
        judged.*,
        case when judged.milestone_date = judged.first_date and judged.date_column is not null then
            judged.date_column || case when judged.dates_state = 'IN_PROGRESS' then '; pack_items_done' else '' end
        end as sets_item,
        case when judged.dates_state = judged.pack_state and judged.milestone_date = judged.state_entered_date
            then 'state_entered_date'
        end as sets_state
    from judged
),

final as (
    select
        -- grain of the KPI row it belongs to
        roles.perspective,
        roles.study_id,
        roles.country_code,
        roles.site_number as site_code,
        -- the record
        roles.milestone_code,
        roles.milestone_date,
        as_of.as_of_date,
        -- how the KPI counts it
        roles.pack_state,
        coalesce(roles.sets_item || coalesce('; ' || roles.sets_state, ''), roles.sets_state) as sets,
        coalesce(roles.sets_item, roles.sets_state) is not null as is_counted,
        case
            when coalesce(roles.sets_item, roles.sets_state) is not null then null
            when roles.milestone_code = 'PROTOCOL_FINAL' and roles.pack_state <> 'PLANNED'
                then 'not_planned: the protocol final dates the state only of a site with no pack item done; this site is ' || roles.pack_state
            when roles.milestone_code = 'PROTOCOL_FINAL'
                then 'not_first: the first PROTOCOL_FINAL of the study is on ' || cast(roles.first_date as {{ dbt.type_string() }})
            else 'not_first: the first ' || roles.milestone_code || ' of the site is on ' || cast(roles.first_date as {{ dbt.type_string() }})
        end as exclusion_reason,
        {{ evidence_lineage('roles') }}
    from roles
    cross join as_of
    left join ledger
        on roles._delivery_id = ledger.delivery_id
)

select * from final
