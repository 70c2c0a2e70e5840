with source as (
    select * from {{ source('raw', 'cro__visits') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        "CroStudyRef" as cro_study_ref,
        "SiteCode" as site_code,
        "SubjectId" as subject_id,
        "VisitCode" as cro_visit_code,
        "FinanceState" as cro_finance_state,
        -- dates
        {{ parse_date('"VisitDate"', 'cro') }} as visit_date,
        {{ parse_date('"SdvDate"', 'cro') }} as sdv_date,
        {{ parse_timestamp_utc('"UpdatedAt"') }} as updated_at,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            ('"VisitDate"', 'date', 'cro'),
            ('"SdvDate"', 'date', 'cro'),
            ('"UpdatedAt"', 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
