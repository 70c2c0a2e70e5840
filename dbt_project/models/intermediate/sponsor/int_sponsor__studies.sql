{#- The sponsor's studies as they stand (latest snapshot), conformed. -#}
with checked as (
    select * from {{ ref('int_sponsor__studies__checked') }}
    where _quarantine_rule is null
)

{{ current_snapshot('checked') }}
