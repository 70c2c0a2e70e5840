with source as (
    select * from {{ source('raw', 'cro__site_payments') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        "PaymentId" as payment_id,
        "CroStudyRef" as cro_study_ref,
        "SiteCode" as site_code,
        "SubjectId" as subject_id,
        "VisitCode" as cro_visit_code,
        "Status" as payment_status,
        -- amounts
        {{ parse_decimal('"Amount"') }} as amount,
        "Currency" as currency,
        -- dates
        {{ parse_date('"PayableDate"', 'cro') }} as payable_date,
        {{ parse_date('"PaidDate"', 'cro') }} as paid_date,
        {{ parse_timestamp_utc('"UpdatedAt"') }} as updated_at,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('"Amount"', 'decimal', none),
            ('"PayableDate"', 'date', 'cro'),
            ('"PaidDate"', 'date', 'cro'),
            ('"UpdatedAt"', 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
