{#- The CRO's site crosswalk, in canonical codes: sponsor study id, ISO country code and
    the sponsor's site number. -#}
with sites as (
    {{ current_snapshot(ref('stg_cro__sites')) }}
),

studies as (
    select cro_id, cro_study_ref, sponsor_study_id from {{ ref('int_cro__studies_current') }}
),

country_names as (
    select cro_id, {{ normalize_name('country_name_variant') }} as country_name_key, country_code
    from {{ ref('map_country_names') }}
    where valid_to is null
),

final as (
    select
        sites.cro_id,
        sites.cro_study_ref,
        studies.sponsor_study_id as study_id,
        sites.site_code,
        coalesce(sites.sponsor_site_number, sites.site_code) as site_number,
        sites.country_name,
        country_names.country_code,
        sites.site_status,
        sites._delivery_id,
        sites._row_number
    from sites
    left join studies
        on sites.cro_id = studies.cro_id
        and sites.cro_study_ref = studies.cro_study_ref
    left join country_names
        on {{ normalize_name('sites.country_name') }} = country_names.country_name_key
        and country_names.cro_id in (sites.cro_id, '*')
)

select * from final
