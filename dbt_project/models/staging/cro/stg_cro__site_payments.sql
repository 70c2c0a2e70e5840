with source as (
    select * from {{ source('raw', 'cro__site_payments') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        {{ adapter.quote('PaymentId') }} as payment_id,
        {{ adapter.quote('CroStudyRef') }} as cro_study_ref,
        {{ adapter.quote('SiteCode') }} as site_code,
        {{ adapter.quote('SubjectId') }} as subject_id,
        {{ adapter.quote('VisitCode') }} as cro_visit_code,
        {{ adapter.quote('Status') }} as payment_status,
        -- amounts
        {{ parse_decimal(adapter.quote('Amount')) }} as amount,
        {{ adapter.quote('Currency') }} as currency,
        -- dates
        {{ parse_date(adapter.quote('PayableDate'), 'cro') }} as payable_date,
        {{ parse_date(adapter.quote('PaidDate'), 'cro') }} as paid_date,
        {{ parse_timestamp_utc(adapter.quote('UpdatedAt')) }} as updated_at,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            (adapter.quote('Amount'), 'decimal', none),
            (adapter.quote('PayableDate'), 'date', 'cro'),
            (adapter.quote('PaidDate'), 'date', 'cro'),
            (adapter.quote('UpdatedAt'), 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
