{#- The site start-up pack of every site either side knows, per perspective
    (docs/kpi-definitions.md, "Study operations marts"): SELECTED, IRB_APPROVED,
    CONTRACT_SIGNED, SYSTEMS_READY, then SITE_READY (SIV). PLANNED while no item is done,
    IN_PROGRESS once one is, READY once the SIV is done (an item voided after the SIV is
    gone from the facts: READY with one item fewer done). The one input of
    kpi_site_readiness and of the site counts of kpi_country_readiness. -#}
with milestones as (
    select * from {{ ref('fct_milestone_events') }}
    where milestone_code in (
        'SITE_SELECTED', 'SITE_IRB_APPROVED', 'SITE_CONTRACT_SIGNED', 'SITE_SYSTEMS_READY', 'SITE_READY'
    )
        and site_number is not null
),

protocol_final as (
    select perspective, study_id, min(milestone_date) as protocol_final_date
    from {{ ref('fct_milestone_events') }}
    where milestone_code = 'PROTOCOL_FINAL'
    group by perspective, study_id
),

perspectives as (
    select 'sponsor' as perspective union all select 'cro' as perspective
),

{#- Every site either side knows: the CRO's site list and any site with a pack record,
    in every perspective. -#}
known_sites as (
    select study_id, site_number, max(country_code) as country_code
    from (
        select study_id, site_number, country_code from {{ ref('dim_site') }}
        union all
        select study_id, site_number, country_code from milestones
    ) as sites
    where study_id is not null and site_number is not null
    group by study_id, site_number
),

per_site as (
    select
        perspective,
        study_id,
        site_number,
        min(case when milestone_code = 'SITE_SELECTED' then milestone_date end) as selected_date,
        min(case when milestone_code = 'SITE_IRB_APPROVED' then milestone_date end) as irb_approved_date,
        min(case when milestone_code = 'SITE_CONTRACT_SIGNED' then milestone_date end) as contract_signed_date,
        min(case when milestone_code = 'SITE_SYSTEMS_READY' then milestone_date end) as systems_ready_date,
        min(case when milestone_code = 'SITE_READY' then milestone_date end) as site_ready_date
    from milestones
    group by perspective, study_id, site_number
),

pack as (
    select
        perspectives.perspective,
        known_sites.study_id,
        known_sites.country_code,
        known_sites.site_number,
        per_site.selected_date,
        per_site.irb_approved_date,
        per_site.contract_signed_date,
        per_site.systems_ready_date,
        per_site.site_ready_date,
        (case when per_site.selected_date is not null then 1 else 0 end)
        + (case when per_site.irb_approved_date is not null then 1 else 0 end)
        + (case when per_site.contract_signed_date is not null then 1 else 0 end)
        + (case when per_site.systems_ready_date is not null then 1 else 0 end) as pack_items_done,
        {{ least_of(['per_site.selected_date', 'per_site.irb_approved_date', 'per_site.contract_signed_date', 'per_site.systems_ready_date']) }}
            as first_item_date,
        protocol_final.protocol_final_date
    from known_sites
    cross join perspectives
    left join per_site
        on perspectives.perspective = per_site.perspective
        and known_sites.study_id = per_site.study_id
        and known_sites.site_number = per_site.site_number
    left join protocol_final
        on perspectives.perspective = protocol_final.perspective
        and known_sites.study_id = protocol_final.study_id
),

stated as (
    select
        pack.*,
        case
            when site_ready_date is not null then 'READY'
            when pack_items_done > 0 then 'IN_PROGRESS'
            else 'PLANNED'
        end as pack_state,
        case
            when site_ready_date is not null then site_ready_date
            when pack_items_done > 0 then first_item_date
            else protocol_final_date
        end as state_entered_date
    from pack
),

final as (
    select
        -- grain
        perspective,
        study_id,
        country_code,
        site_number,
        -- pack items (null while not done)
        selected_date,
        irb_approved_date,
        contract_signed_date,
        systems_ready_date,
        site_ready_date,
        -- state
        cast(pack_items_done as integer) as pack_items_done,
        pack_state,
        state_entered_date
    from stated
)

select * from final
