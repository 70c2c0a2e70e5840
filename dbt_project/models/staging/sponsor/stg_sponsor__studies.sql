with source as (
    select * from {{ source('raw', 'sponsor__studies') }}
),

renamed as (
    select
        -- ids
        study_id,
        protocol_version,
        cro_id,
        -- descriptors
        phase,
        therapeutic_area,
        status as study_status,
        budget_currency,
        -- dates
        {{ parse_date('protocol_final_date', 'sponsor') }} as protocol_final_date,
        -- plan
        {{ parse_integer('planned_countries') }} as planned_countries,
        {{ parse_integer('planned_sites') }} as planned_sites,
        {{ parse_integer('planned_subjects') }} as planned_subjects,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('protocol_final_date', 'date', 'sponsor'),
            ('planned_countries', 'integer', none),
            ('planned_sites', 'integer', none),
            ('planned_subjects', 'integer', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
