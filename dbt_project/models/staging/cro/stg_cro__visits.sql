with source as (
    select * from {{ source('raw', 'cro__visits') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        {{ adapter.quote('CroStudyRef') }} as cro_study_ref,
        {{ adapter.quote('SiteCode') }} as site_code,
        {{ adapter.quote('SubjectId') }} as subject_id,
        {{ adapter.quote('VisitCode') }} as cro_visit_code,
        {{ adapter.quote('FinanceState') }} as cro_finance_state,
        -- dates
        {{ parse_date(adapter.quote('VisitDate'), 'cro') }} as visit_date,
        {{ parse_date(adapter.quote('SdvDate'), 'cro') }} as sdv_date,
        {{ parse_timestamp_utc(adapter.quote('UpdatedAt')) }} as updated_at,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            (adapter.quote('VisitDate'), 'date', 'cro'),
            (adapter.quote('SdvDate'), 'date', 'cro'),
            (adapter.quote('UpdatedAt'), 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
