{#- Studies as the sponsor defines them, with the CRO's reference for each. -#}
with studies as (
    select * from {{ ref('int_sponsor__studies') }}
),

cro_refs as (
    select study_id, cro_id, cro_study_ref from {{ ref('int_cro__studies') }}
),

final as (
    select
        -- ids
        studies.study_id,
        studies.cro_id,
        cro_refs.cro_study_ref,
        -- descriptors
        studies.protocol_version,
        studies.phase,
        studies.therapeutic_area,
        studies.study_status,
        studies.budget_currency,
        -- dates
        studies.protocol_final_date,
        -- plan
        studies.planned_countries,
        studies.planned_sites,
        studies.planned_subjects
    from studies
    left join cro_refs
        on studies.study_id = cro_refs.study_id
        and studies.cro_id = cro_refs.cro_id
)

select * from final
