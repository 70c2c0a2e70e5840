with checked as (
    select * from {{ ref('int_sponsor__enrollment_plan__checked') }}
    where _quarantine_rule is null
)

{{ current_snapshot('checked') }}
