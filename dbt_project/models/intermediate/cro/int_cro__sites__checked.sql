{#- The CRO's sites in canonical codes: sponsor study id, ISO country, sponsor site
    number (the governance forum's overrides win over the CRO's own link). -#}
with staged as (
    select * from {{ ref('stg_cro__sites') }}
),

studies as (
    select cro_id, cro_study_ref, study_id from {{ ref('int_cro__studies') }}
),

country_names as (
    select * from {{ ref('int_mappings__country_names') }}
),

overrides as (
    select * from {{ ref('map_site_overrides') }}
),

checked as (
    select
        staged.*,
        studies.study_id,
        country_names.country_code,
        coalesce(overrides.sponsor_site_number, staged.sponsor_site_number, staged.site_code) as site_number,
        {{ quarantine_columns([
            ('studies.study_id is null', 'unknown_cro_study', 'staged.cro_study_ref'),
            ('country_names.country_code is null', 'unmapped_country', 'staged.country_name'),
        ]) }}
    from staged
    left join studies
        on staged.cro_id = studies.cro_id
        and staged.cro_study_ref = studies.cro_study_ref
    left join country_names
        on staged.cro_id = country_names.cro_id
        and {{ normalize_name('staged.country_name') }} = country_names.country_name_key
        and {{ in_force('country_names', 'staged._delivery_date') }}
    left join overrides
        on staged.cro_id = overrides.cro_id
        and staged.cro_study_ref = overrides.cro_study_ref
        and staged.site_code = overrides.site_code
        and {{ in_force('overrides', 'staged._delivery_date') }}
)

select * from checked
