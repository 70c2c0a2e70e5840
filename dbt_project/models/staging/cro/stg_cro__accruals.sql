with source as (
    select * from {{ source('raw', 'cro__accruals') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        "CroStudyRef" as cro_study_ref,
        "Month" as accrual_month,
        {{ parse_month('"Month"') }} as accrual_month_start,
        "RateCode" as rate_code,
        -- amounts
        {{ parse_decimal('"Units"') }} as units,
        {{ parse_decimal('"Amount"') }} as amount,
        "Currency" as currency,
        {{ parse_decimal('"InternalCost"') }} as internal_cost,  -- sensitivity: cro_internal
        -- versions
        {{ parse_timestamp_utc('"UpdatedAt"') }} as updated_at,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('"Month"', 'month', none),
            ('"Units"', 'decimal', none),
            ('"Amount"', 'decimal', none),
            ('"InternalCost"', 'decimal', none),
            ('"UpdatedAt"', 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
