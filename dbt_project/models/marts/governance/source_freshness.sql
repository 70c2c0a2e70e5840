{#- For each source and feed: the last delivery received (whatever became of it), the
    last one loaded, the deliveries held now, and how old each is. A source silent for
    longer than the governed window (var source_silence_days) is stale. Strays (files that
    are no delivery of a feed) are in the ledger as rejected, not here. -#}
{{ config(materialized='table') }}

with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
    where feed is not null
),

by_feed as (
    select
        source,
        side,
        cro_id,
        feed,
        max(ingested_at) as last_received_at,
        max(case when status = 'loaded' then ingested_at end) as last_loaded_at,
        max(case when status = 'loaded' then extract_at end) as last_loaded_extract_at,
        count(case when status = 'held' then 1 end) as deliveries_held,
        min(case when status = 'held' then ingested_at end) as oldest_held_at
    from ledger
    group by source, side, cro_id, feed
),

final as (
    select
        source,
        side,
        cro_id,
        feed,
        last_received_at,
        last_loaded_at,
        last_loaded_extract_at,
        deliveries_held,
        oldest_held_at,
        {{ hours_between('last_received_at', build_time()) }} as hours_since_received,
        {{ hours_between('last_loaded_at', build_time()) }} as hours_since_loaded,
        {{ hours_between('oldest_held_at', build_time()) }} as hours_oldest_held,
        {{ var('source_silence_days') }} as silence_window_days,
        {{ hours_between('last_received_at', build_time()) }}
            > 24 * {{ var('source_silence_days') }} as is_stale
    from by_feed
)

select * from final
