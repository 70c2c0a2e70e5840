{#- Every record behind kpi_data_quality, per source, feed and month of extract time: each
    delivery of the ledger with what it adds to the received, accepted and quarantined
    counts (a re-delivery, status `duplicate`, counts the records of the file it repeats
    as received and nothing else), each code the dictionary cannot place yet with the
    first row that held it back (mapping_gaps counts it in the month it was first seen),
    and the recording lags of the accepted events and visits of each loaded delivery, as
    fct_record_lags counts them (one row per delivery and lag, with its number of
    records). Strays (no feed or no extract time) are no delivery of a feed and not here. -#}
with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

feed_deliveries as (
    select * from ledger
    where feed is not null and extract_at is not null
),

conform_held as (
    select delivery_id, count(*) as rows_held
    from {{ ref('fct_unconformed_rows') }}
    group by delivery_id
),

deliveries as (
    select
        feed_deliveries.source,
        feed_deliveries.feed,
        {{ month_label('cast(feed_deliveries.extract_at as date)') }} as month,
        'delivery' as record_kind,
        feed_deliveries.file_name as record_id,
        feed_deliveries.status as delivery_status,
        case
            when feed_deliveries.status = 'duplicate' then coalesce(originals.rows_loaded + originals.rows_quarantined, 0)
            else feed_deliveries.rows_loaded + feed_deliveries.rows_quarantined
        end as rows_received,
        case when feed_deliveries.status = 'duplicate' then 0 else feed_deliveries.rows_loaded + feed_deliveries.rows_quarantined end
            as rows_first_received,
        case
            when feed_deliveries.status = 'loaded' then feed_deliveries.rows_loaded - coalesce(conform_held.rows_held, 0)
            else 0
        end as rows_accepted,
        case
            when feed_deliveries.status = 'duplicate' then 0
            else feed_deliveries.rows_quarantined + coalesce(conform_held.rows_held, 0)
        end as rows_quarantined,
        cast(null as integer) as days_late,
        cast(null as {{ dbt.type_bigint() }}) as records,
        cast(null as {{ dbt.type_bigint() }}) as row_number,
        feed_deliveries.delivery_id
    from feed_deliveries
    left join ledger as originals
        on feed_deliveries.duplicate_of = originals.delivery_id
    left join conform_held
        on feed_deliveries.delivery_id = conform_held.delivery_id
),

held_codes as (
    select
        held.*,
        row_number() over (
            partition by source, feed, rule, offending_value order by extract_at, file_name, row_number
        ) as first_rank
    from {{ ref('quarantined_rows') }} as held
    where held.stage = 'conform'
        and (held.rule like 'unmapped_%' or held.rule like 'unknown_%')
),

unmapped_codes as (
    select
        source,
        feed,
        {{ month_label('cast(extract_at as date)') }} as month,
        'unmapped_code' as record_kind,
        rule || ': ' || offending_value as record_id,
        cast(null as {{ dbt.type_string() }}) as delivery_status,
        cast(null as {{ dbt.type_bigint() }}) as rows_received,
        cast(null as {{ dbt.type_bigint() }}) as rows_first_received,
        cast(null as {{ dbt.type_bigint() }}) as rows_accepted,
        cast(null as {{ dbt.type_bigint() }}) as rows_quarantined,
        cast(null as integer) as days_late,
        cast(null as {{ dbt.type_bigint() }}) as records,
        row_number,
        delivery_id
    from held_codes
    where first_rank = 1
),

recorded_lags as (
    select
        deliveries.source,
        deliveries.feed,
        deliveries.month,
        'recorded_lag' as record_kind,
        'days_late=' || cast(record_lags.days_late as {{ dbt.type_string() }}) as record_id,
        cast(null as {{ dbt.type_string() }}) as delivery_status,
        cast(null as {{ dbt.type_bigint() }}) as rows_received,
        cast(null as {{ dbt.type_bigint() }}) as rows_first_received,
        cast(null as {{ dbt.type_bigint() }}) as rows_accepted,
        cast(null as {{ dbt.type_bigint() }}) as rows_quarantined,
        record_lags.days_late,
        record_lags.records,
        cast(null as {{ dbt.type_bigint() }}) as row_number,
        record_lags.delivery_id
    from {{ ref('fct_record_lags') }} as record_lags
    inner join deliveries
        on record_lags.delivery_id = deliveries.delivery_id
    where deliveries.delivery_status = 'loaded'
),

records as (
    select * from deliveries
    union all
    select * from unmapped_codes
    union all
    select * from recorded_lags
),

final as (
    select
        -- grain of the KPI row it belongs to
        records.source,
        records.feed,
        records.month,
        -- the record
        records.record_kind,
        records.record_id,
        records.delivery_status,
        cast(records.rows_received as {{ dbt.type_bigint() }}) as rows_received,
        cast(records.rows_first_received as {{ dbt.type_bigint() }}) as rows_first_received,
        cast(records.rows_accepted as {{ dbt.type_bigint() }}) as rows_accepted,
        cast(records.rows_quarantined as {{ dbt.type_bigint() }}) as rows_quarantined,
        records.days_late,
        records.records,
        -- lineage
        ledger.file_name,
        ledger.sha256 as file_sha256,
        records.row_number,
        ledger.extract_at,
        records.delivery_id
    from records
    left join ledger
        on records.delivery_id = ledger.delivery_id
)

select * from final
