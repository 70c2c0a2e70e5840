with source as (
    select * from {{ source('raw', 'cro__rate_card') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        "RateCode" as rate_code,
        "Description" as rate_description,
        "Unit" as unit,
        nullif(trim("ExceptionRef"), '') as exception_ref,
        -- amounts
        {{ parse_decimal('"UnitPrice"') }} as unit_price,
        "Currency" as currency,
        -- validity
        {{ parse_date('"ValidFrom"', 'cro') }} as valid_from,
        {{ parse_date('"ValidTo"', 'cro') }} as valid_to,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('"UnitPrice"', 'decimal', none),
            ('"ValidFrom"', 'date', 'cro'),
            ('"ValidTo"', 'date', 'cro')
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
