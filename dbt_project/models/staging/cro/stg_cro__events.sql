with source as (
    select * from {{ source('raw', 'cro__events') }}
),

renamed as (
    select
        -- ids
        _cro_id as cro_id,
        event_id,
        {{ adapter.quote('type') }} as cro_event_type,
        study as cro_study_ref,
        country as country_name,
        site as site_code,
        subject as subject_id,
        supersedes as supersedes_event_id,
        deviation_id,
        risk_id,
        -- deviation severity (IMPORTANT/NOT_IMPORTANT) or risk severity (LOW..CRITICAL), risk category
        severity,
        category,
        -- timestamps (UTC), and the calendar dates where the event happened: KPIs count
        -- local calendar days (00:30 on 1 May in Paris is 1 May, not 30 April)
        {{ parse_timestamp_utc(adapter.quote('at')) }} as occurred_at,
        {{ parse_timestamp_utc('recorded_at') }} as recorded_at,
        {{ parse_local_date(adapter.quote('at')) }} as occurred_local_date,
        {{ parse_local_date('recorded_at') }} as recorded_local_date,
        -- the first value that does not parse, held as the quarantine reason
        {{ cast_error([
            (adapter.quote('at'), 'timestamp', none),
            ('recorded_at', 'timestamp', none)
        ]) }} as _cast_error,
        {{ lineage_columns() }}
    from source
)

select * from renamed
