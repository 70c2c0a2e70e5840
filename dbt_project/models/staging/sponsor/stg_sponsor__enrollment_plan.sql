with source as (
    select * from {{ source('raw', 'sponsor__enrollment_plan') }}
),

renamed as (
    select
        -- ids
        study_id,
        upper(trim(country)) as country_code,
        month as plan_month,
        {{ parse_month('month') }} as plan_month_start,
        -- plan
        {{ parse_integer('planned_randomized_cum') }} as planned_randomized_cum,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('month', 'month', none),
            ('planned_randomized_cum', 'integer', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
