{#- The CRO's rate card as it stands (latest snapshot), exceptions included. -#}
with checked as (
    select * from {{ ref('int_cro__rate_card__checked') }}
    where _quarantine_rule is null
)

{{ current_snapshot('checked') }}
