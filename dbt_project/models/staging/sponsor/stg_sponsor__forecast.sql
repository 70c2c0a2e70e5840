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
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('forecast_version', 'month', none),
            ('month', 'month', none),
            ('amount', 'decimal', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
