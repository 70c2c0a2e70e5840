with source as (
    select * from {{ source('raw', 'sponsor__milestones') }}
),

renamed as (
    select
        -- ids (empty country or site number means a higher-level milestone)
        study_id,
        nullif(upper(trim(country)), '') as country_code,
        nullif(trim(site_number), '') as site_number,
        milestone as sponsor_milestone_code,
        -- dates
        {{ parse_date('planned_date', 'sponsor') }} as planned_date,
        {{ parse_date('actual_date', 'sponsor') }} as actual_date,
        {{ parse_timestamp_utc('updated_at') }} as updated_at,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('planned_date', 'date', 'sponsor'),
            ('actual_date', 'date', 'sponsor'),
            ('updated_at', 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
