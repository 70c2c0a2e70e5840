with source as (
    select * from {{ source('raw', 'cro__studies') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        "CroStudyRef" as cro_study_ref,
        "SponsorStudyId" as sponsor_study_id,
        "ProtocolVersion" as protocol_version,
        {{ lineage_columns() }}
    from source
)

select * from renamed
