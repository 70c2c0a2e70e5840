{#- How late the accepted CRO records were recorded, in whole calendar days: the date of
    `recorded_at` minus the date of `at` for events, the date of `UpdatedAt` minus
    `VisitDate` for visits; one row per delivery and lag with the number of records, so
    that the table stays small on a large portfolio (kpi_data_quality takes the median
    from the counts).

    Incremental by delivery: a build counts again only the deliveries with a record
    conformed since the last (the pre-hook forgets their counts first, so a delivery none
    of whose records is accepted any longer is gone). -#}
{{ config(
    materialized=incremental_materialization(),
    unique_key=['feed', 'delivery_id'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ forget_recounted_deliveries() }}",
) }}

{%- set counting_again = is_incremental() and has_column(this, '_built_at') %}

with
{%- if counting_again %}
recounted as (
    {{ deliveries_conformed_since_last_build() }}
),
{%- endif %}

events as (
    select
        _source as source,
        'events' as feed,
        _delivery_id as delivery_id,
        _extract_at as extract_at,
        cast({{ days_between('occurred_local_date', 'recorded_local_date') }} as integer) as days_late
    from {{ ref('int_cro__events__checked') }}
    where _quarantine_rule is null
        {%- if counting_again %}
        and _delivery_id in (select delivery_id from recounted)
        {%- endif %}
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
        {%- if counting_again %}
        and _delivery_id in (select delivery_id from recounted)
        {%- endif %}
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
        cast(count(*) as bigint) as records,
        {{ build_time() }} as _built_at
    from unioned
    group by source, feed, delivery_id, extract_at, days_late
)

select * from final
