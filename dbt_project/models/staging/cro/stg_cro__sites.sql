with source as (
    select * from {{ source('raw', 'cro__sites') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        {{ adapter.quote('CroStudyRef') }} as cro_study_ref,
        {{ adapter.quote('SiteCode') }} as site_code,
        nullif(trim({{ adapter.quote('SponsorSiteNo') }}), '') as sponsor_site_number,
        {{ adapter.quote('Country') }} as country_name,
        {{ adapter.quote('Status') }} as site_status,
        cast(null as {{ dbt.type_string() }}) as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
