with source as (
    select * from {{ source('raw', 'cro__rate_card') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        {{ adapter.quote('RateCode') }} as rate_code,
        {{ adapter.quote('Description') }} as rate_description,
        {{ adapter.quote('Unit') }} as unit,
        nullif(trim({{ adapter.quote('ExceptionRef') }}), '') as exception_ref,
        -- amounts
        {{ parse_decimal(adapter.quote('UnitPrice')) }} as unit_price,
        {{ adapter.quote('Currency') }} as currency,
        -- validity
        {{ parse_date(adapter.quote('ValidFrom'), 'cro') }} as valid_from,
        {{ parse_date(adapter.quote('ValidTo'), 'cro') }} as valid_to,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            (adapter.quote('UnitPrice'), 'decimal', none),
            (adapter.quote('ValidFrom'), 'date', 'cro'),
            (adapter.quote('ValidTo'), 'date', 'cro')
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
