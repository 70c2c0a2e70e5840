{#- The site start-up pack (docs/kpi-definitions.md, "Study operations marts"), one
    definition for every perspective (fct_site_packs): the items' dates, the state and how
    long the site has been in it at the as-of date. One row per perspective and site
    either side knows. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

packs as (
    select * from {{ ref('fct_site_packs') }}
),

final as (
    select
        -- grain
        packs.perspective,
        packs.study_id,
        packs.country_code,
        packs.site_number as site_code,
        -- pack items (null while not done)
        packs.selected_date,
        packs.irb_approved_date,
        packs.contract_signed_date,
        packs.systems_ready_date,
        packs.site_ready_date,
        -- state
        packs.pack_items_done,
        cast(4 as integer) as pack_items_total,
        packs.pack_state,
        packs.state_entered_date,
        cast({{ days_between('packs.state_entered_date', 'as_of.as_of_date') }} as integer) as days_in_state
    from packs
    cross join as_of
)

select * from final
