with source as (
    select * from {{ source('raw', 'sponsor__country_plan') }}
),

renamed as (
    select
        -- ids
        study_id,
        upper(trim(country)) as country_code,
        -- plan
        {{ parse_integer('planned_sites') }} as planned_sites,
        {{ parse_integer('planned_subjects') }} as planned_subjects,
        {{ parse_date('planned_country_ready', 'sponsor') }} as planned_country_ready_date,
        {{ parse_date('planned_first_site_ready', 'sponsor') }} as planned_first_site_ready_date,
        {{ parse_date('planned_fpi', 'sponsor') }} as planned_fpi_date,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('planned_sites', 'integer', none),
            ('planned_subjects', 'integer', none),
            ('planned_country_ready', 'date', 'sponsor'),
            ('planned_first_site_ready', 'date', 'sponsor'),
            ('planned_fpi', 'date', 'sponsor')
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
