{#- The latest state of each site payment (by UpdatedAt). -#}
with checked as (
    select * from {{ ref('int_cro__site_payments__checked') }}
    where _quarantine_rule is null
),

latest as (
    {{ latest_version('checked', ['cro_id', 'payment_id'], 'updated_at') }}
)

select * from latest
