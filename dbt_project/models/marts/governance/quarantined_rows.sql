{#- Every row held back, with where it came from and why: rows held at ingest (stage
    `ingest`: unreadable, failing the contract gate, or repeating a row already counted;
    `rule` is the first of its reasons) and rows that could not be conformed (stage
    `conform`, CRO events whose corrections loop included). A row held in conform flows
    on by itself once its cause is fixed (a mapping added, say); one held at ingest comes
    back in a corrected delivery. -#}
{%- set feeds = contract_feeds() %}

with conform_held as (
    {%- for side, feed in feeds %}
    select
        'conform' as stage,
        _source as source,
        '{{ side }}' as side,
        '{{ feed }}' as feed,
        _delivery_id as delivery_id,
        _file_name as file_name,
        _extract_at as extract_at,
        _row_number as row_number,
        _quarantine_rule as rule,
        _quarantine_value as offending_value,
        _quarantine_reason as reason
    from {{ ref('int_' ~ side ~ '__' ~ feed ~ '__checked') }}
    where _quarantine_rule is not null
    union all
    {%- endfor %}
    select
        'conform' as stage,
        _source as source,
        'cro' as side,
        'events' as feed,
        _delivery_id as delivery_id,
        _file_name as file_name,
        _extract_at as extract_at,
        _row_number as row_number,
        _quarantine_rule as rule,
        _quarantine_value as offending_value,
        _quarantine_reason as reason
    from {{ ref('int_cro__events__unresolved') }}
),

ingest_held as (
    select
        'ingest' as stage,
        quarantine.source,
        ledger.side,
        quarantine.feed,
        quarantine.delivery_id,
        quarantine.file_name,
        ledger.extract_at,
        quarantine.row_number,
        {{ dbt.split_part('quarantine.reason', "':'", 1) }} as rule,
        quarantine.raw_values as offending_value,
        quarantine.reason
    from {{ source('audit', 'ingest_quarantine') }} as quarantine
    inner join {{ source('audit', 'delivery_ledger') }} as ledger
        on quarantine.delivery_id = ledger.delivery_id
),

final as (
    select * from ingest_held
    union all
    select * from conform_held
)

select * from final
