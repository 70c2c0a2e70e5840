{#- How late each accepted CRO record was recorded, in whole calendar days, one row per
    conformed event or visit version: the date of `recorded_at` minus the date of `at` for
    events, the date of `UpdatedAt` minus `VisitDate` for visits. The input of
    kpi_data_quality.median_days_recorded_late. -#}
with events as (
    select
        _source as source,
        'events' as feed,
        _delivery_id as delivery_id,
        _extract_at as extract_at,
        cast({{ days_between('occurred_local_date', 'recorded_local_date') }} as integer) as days_late
    from {{ ref('int_cro__events__checked') }}
    where _quarantine_rule is null
),

visits as (
    select
        _source as source,
        'visits' as feed,
        _delivery_id as delivery_id,
        _extract_at as extract_at,
        cast({{ days_between('visit_date', 'cast(updated_at as date)') }} as integer) as days_late
    from {{ ref('int_cro__visits__checked') }}
    where _quarantine_rule is null
),

final as (
    select * from events
    union all
    select * from visits
)

select * from final
