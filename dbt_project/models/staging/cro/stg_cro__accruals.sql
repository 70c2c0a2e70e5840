with source as (
    select * from {{ source('raw', 'cro__accruals') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        {{ adapter.quote('CroStudyRef') }} as cro_study_ref,
        {{ adapter.quote('Month') }} as accrual_month,
        {{ parse_month(adapter.quote('Month')) }} as accrual_month_start,
        {{ adapter.quote('RateCode') }} as rate_code,
        -- amounts
        {{ parse_decimal(adapter.quote('Units')) }} as units,
        {{ parse_decimal(adapter.quote('Amount')) }} as amount,
        {{ adapter.quote('Currency') }} as currency,
        {{ parse_decimal(adapter.quote('InternalCost')) }} as internal_cost,  -- sensitivity: cro_internal
        -- versions
        {{ parse_timestamp_utc(adapter.quote('UpdatedAt')) }} as updated_at,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            (adapter.quote('Month'), 'month', none),
            (adapter.quote('Units'), 'decimal', none),
            (adapter.quote('Amount'), 'decimal', none),
            (adapter.quote('InternalCost'), 'decimal', none),
            (adapter.quote('UpdatedAt'), 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
