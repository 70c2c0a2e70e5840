{#- The latest state of each invoice (by updated_at). -#}
with checked as (
    select * from {{ ref('int_sponsor__invoices__checked') }}
    where _quarantine_rule is null
),

latest as (
    {{ latest_version('checked', ['invoice_id'], 'updated_at') }}
)

select * from latest
