with source as (
    select * from {{ source('raw', 'cro__events') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        event_id,
        type as cro_event_type,
        study as cro_study_ref,
        country as country_name,
        site as site_code,
        subject as subject_id,
        supersedes as supersedes_event_id,
        deviation_id,
        -- timestamps (UTC)
        {{ parse_timestamp_utc('at') }} as occurred_at,
        {{ parse_timestamp_utc('recorded_at') }} as recorded_at,
        {{ lineage_columns() }}
    from source
)

select * from renamed
