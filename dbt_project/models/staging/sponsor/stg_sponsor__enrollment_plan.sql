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
        {{ lineage_columns() }}
    from source
)

select * from renamed
