with source as (
    select * from {{ source('raw', 'cro__studies') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        {{ adapter.quote('CroStudyRef') }} as cro_study_ref,
        {{ adapter.quote('SponsorStudyId') }} as sponsor_study_id,
        {{ adapter.quote('ProtocolVersion') }} as protocol_version,
        cast(null as {{ dbt.type_string() }}) as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
