with source as (
    select * from {{ source('raw', 'sponsor__forecast') }}
),

renamed as (
    select
        -- ids
        study_id,
        forecast_version,
        cost_bucket as sponsor_cost_bucket,
        month as forecast_month,
        {{ parse_month('forecast_version') }} as forecast_version_start,
        {{ parse_month('month') }} as forecast_month_start,
        -- amounts
        {{ parse_decimal('amount') }} as amount,
        currency,
        {{ lineage_columns() }}
    from source
)

select * from renamed
