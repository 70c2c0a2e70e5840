with source as (
    select * from {{ source('raw', 'sponsor__invoices') }}
),

renamed as (
    select
        -- ids
        invoice_id,
        study_id,
        cro_id,
        cost_bucket as sponsor_cost_bucket,
        status as invoice_status,
        -- dates
        {{ parse_date('invoice_date', 'sponsor') }} as invoice_date,
        {{ parse_date('paid_date', 'sponsor') }} as paid_date,
        {{ parse_timestamp_utc('updated_at') }} as updated_at,
        -- amounts
        {{ parse_decimal('amount') }} as amount,
        currency,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('invoice_date', 'date', 'sponsor'),
            ('paid_date', 'date', 'sponsor'),
            ('updated_at', 'timestamp', none),
            ('amount', 'decimal', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
