{#- How late the accepted CRO records were recorded, in whole calendar days: the date of
    `recorded_at` minus the date of `at` for events, the date of `UpdatedAt` minus
    `VisitDate` for visits; one row per delivery and lag with the number of records, so
    that the table stays small on a large portfolio (kpi_data_quality takes the median
    from the counts). -#}
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

unioned as (
    select * from events
    union all
    select * from visits
),

final as (
    select
        source,
        feed,
        delivery_id,
        extract_at,
        days_late,
        cast(count(*) as bigint) as records
    from unioned
    group by source, feed, delivery_id, extract_at, days_late
)

select * from final
