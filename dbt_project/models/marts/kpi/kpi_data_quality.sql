{#- What each sender delivered in each month of extract time, and how clean it was
    (docs/kpi-definitions.md, "Study operations marts"), from the delivery ledger
    (audit.delivery_ledger), the rows the conformed layer holds back
    (fct_unconformed_rows), the codes the dictionary cannot place yet (mapping_gaps) and
    the recording lags of accepted events and visits (fct_record_lags).
    Received counts every file and record, identical re-deliveries (status `duplicate`)
    included, a re-delivery counting the records of the file it repeats. Accepted rows:
    rows of loaded deliveries that also passed the conformed layer. Quarantined: rows held
    at ingestion plus rows held in the conformed layer. pct_rows_accepted = accepted /
    records of the deliveries that were not re-deliveries. Files that are no delivery of a
    feed (strays: an unknown feed, a bad name or folder) have no feed or extract month;
    they are in the ledger as rejected, not here. -#}
with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
    where feed is not null and extract_at is not null
),

conform_held as (
    select delivery_id, count(*) as rows_held
    from {{ ref('fct_unconformed_rows') }}
    group by delivery_id
),

deliveries as (
    select
        ledger.source,
        ledger.feed,
        {{ month_label('cast(ledger.extract_at as date)') }} as month,
        ledger.delivery_id,
        ledger.status,
        case
            when ledger.status = 'duplicate' then coalesce(originals.rows_loaded + originals.rows_quarantined, 0)
            else ledger.rows_loaded + ledger.rows_quarantined
        end as rows_received,
        case when ledger.status = 'duplicate' then 0 else ledger.rows_loaded + ledger.rows_quarantined end
            as rows_first_received,
        case
            when ledger.status = 'loaded' then ledger.rows_loaded - coalesce(conform_held.rows_held, 0)
            else 0
        end as rows_accepted,
        case
            when ledger.status = 'duplicate' then 0
            else ledger.rows_quarantined + coalesce(conform_held.rows_held, 0)
        end as rows_quarantined
    from ledger
    left join ledger as originals
        on ledger.duplicate_of = originals.delivery_id
    left join conform_held
        on ledger.delivery_id = conform_held.delivery_id
),

per_month as (
    select
        source,
        feed,
        month,
        count(*) as deliveries_received,
        sum(case when status = 'loaded' then 1 else 0 end) as deliveries_loaded,
        sum(case when status in ('held', 'superseded') then 1 else 0 end) as deliveries_held,
        sum(case when status = 'rejected' then 1 else 0 end) as deliveries_rejected,
        sum(case when status = 'duplicate' then 1 else 0 end) as deliveries_duplicate,
        sum(rows_received) as rows_received,
        sum(rows_first_received) as rows_first_received,
        sum(rows_accepted) as rows_accepted,
        sum(rows_quarantined) as rows_quarantined
    from deliveries
    group by source, feed, month
),

gaps as (
    select
        source,
        feed,
        {{ month_label('cast(first_seen_at as date)') }} as month,
        count(*) as unmapped_codes_open
    from {{ ref('mapping_gaps') }}
    group by source, feed, {{ month_label('cast(first_seen_at as date)') }}
),

lag_counts as (
    select
        deliveries.source,
        deliveries.feed,
        deliveries.month,
        record_lags.days_late,
        sum(record_lags.records) as records
    from {{ ref('fct_record_lags') }} as record_lags
    inner join deliveries
        on record_lags.delivery_id = deliveries.delivery_id
    where deliveries.status = 'loaded'
    group by deliveries.source, deliveries.feed, deliveries.month, record_lags.days_late
),

{#- The median from the counts: the mean of the values at positions floor((n + 1) / 2) and
    ceiling((n + 1) / 2) of the n lags in order. -#}
cumulated as (
    select
        lag_counts.*,
        sum(records) over (
            partition by source, feed, month order by days_late rows between unbounded preceding and current row
        ) as records_up_to,
        sum(records) over (partition by source, feed, month) as records_total
    from lag_counts
),

lags as (
    select
        source,
        feed,
        month,
        (
            min(case when records_up_to >= floor((records_total + 1) / 2.0) then days_late end)
            + min(case when records_up_to >= ceiling((records_total + 1) / 2.0) then days_late end)
        ) / 2.0 as median_days_recorded_late
    from cumulated
    group by source, feed, month
),

final as (
    select
        -- grain
        per_month.source,
        per_month.feed,
        per_month.month,
        -- deliveries
        cast(per_month.deliveries_received as integer) as deliveries_received,
        cast(per_month.deliveries_loaded as integer) as deliveries_loaded,
        cast(per_month.deliveries_held as integer) as deliveries_held,
        cast(per_month.deliveries_rejected as integer) as deliveries_rejected,
        cast(per_month.deliveries_duplicate as integer) as deliveries_duplicate,
        -- rows
        cast(per_month.rows_received as bigint) as rows_received,
        cast(per_month.rows_accepted as bigint) as rows_accepted,
        cast(per_month.rows_quarantined as bigint) as rows_quarantined,
        cast(
            case when per_month.rows_first_received > 0 then 1.0 * per_month.rows_accepted / per_month.rows_first_received end
            as decimal(10, 4)
        ) as pct_rows_accepted,
        -- dictionary and timeliness
        cast(coalesce(gaps.unmapped_codes_open, 0) as integer) as unmapped_codes_open,
        cast(lags.median_days_recorded_late as decimal(10, 1)) as median_days_recorded_late
    from per_month
    left join gaps
        on per_month.source = gaps.source
        and per_month.feed = gaps.feed
        and per_month.month = gaps.month
    left join lags
        on per_month.source = lags.source
        and per_month.feed = lags.feed
        and per_month.month = lags.month
)

select * from final
