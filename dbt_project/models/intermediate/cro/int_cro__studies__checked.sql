{#- The CRO's study crosswalk (its study reference -> the sponsor's study id), with the
    governance forum's overrides applied where the CRO's own link is wrong. -#}
with staged as (
    select * from {{ ref('stg_cro__studies') }}
),

overrides as (
    select * from {{ ref('map_study_overrides') }}
),

sponsor_studies as (
    select distinct study_id from {{ ref('int_sponsor__studies__checked') }} where _quarantine_rule is null
),

linked as (
    select
        staged.*,
        coalesce(overrides.sponsor_study_id, staged.sponsor_study_id) as study_id,
        overrides.change_ref as override_change_ref
    from staged
    left join overrides
        on staged.cro_id = overrides.cro_id
        and staged.cro_study_ref = overrides.cro_study_ref
        and {{ in_force('overrides', 'staged._delivery_date') }}
),

checked as (
    select
        linked.*,
        {{ quarantine_columns([
            ('sponsor_studies.study_id is null', 'unknown_sponsor_study', 'linked.study_id'),
        ]) }}
    from linked
    left join sponsor_studies
        on linked.study_id = sponsor_studies.study_id
)

select * from checked
