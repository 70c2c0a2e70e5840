with source as (
    select * from {{ source('raw', 'cro__sites') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        "CroStudyRef" as cro_study_ref,
        "SiteCode" as site_code,
        nullif(trim("SponsorSiteNo"), '') as sponsor_site_number,
        "Country" as country_name,
        "Status" as site_status,
        cast(null as {{ dbt.type_string() }}) as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
