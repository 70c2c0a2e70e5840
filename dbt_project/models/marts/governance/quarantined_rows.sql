{#- Every row held back, with where it came from and why: rows held at ingest (stage
    `ingest`: unreadable, failing the contract gate, or repeating a row already counted;
    `rule` is the first of its reasons) and rows that could not be conformed (stage
    `conform`, from marts.fct_unconformed_rows, CRO events whose corrections loop
    included). A row held in conform flows on by itself once its cause is fixed (a
    mapping added, say); one held at ingest comes back in a corrected delivery. Everyone
    reads this table: sensitive delivered values are masked (macros/sensitivity.sql). -#}
with conform_held as (
    select
        'conform' as stage,
        source,
        side,
        feed,
        delivery_id,
        file_name,
        extract_at,
        row_number,
        rule,
        offending_value,
        reason
    from {{ ref('fct_unconformed_rows') }}
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
        {{ mask_held_values('ledger.side', 'quarantine.feed', 'quarantine.raw_values') }} as offending_value,
        {{ mask_held_reason('ledger.side', 'quarantine.feed', 'quarantine.reason') }} as reason
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
