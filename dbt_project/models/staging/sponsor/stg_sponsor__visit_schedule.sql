with source as (
    select * from {{ source('raw', 'sponsor__visit_schedule') }}
),

renamed as (
    select
        -- ids
        study_id,
        protocol_version,
        visit_code,
        visit_name,
        -- schedule
        {{ parse_integer('planned_day') }} as planned_day,
        -- flags
        {{ parse_flag('ctq') }} as is_ctq,
        {{ parse_flag('payable') }} as is_payable,
        -- amounts
        {{ parse_decimal('site_fee') }} as site_fee,
        fee_currency,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('planned_day', 'integer', none),
            ('ctq', 'flag', none),
            ('payable', 'flag', none),
            ('site_fee', 'decimal', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
