{#- The latest delivered amount per study, forecast version, cost bucket and month. -#}
with checked as (
    select * from {{ ref('int_sponsor__forecast__checked') }}
    where _quarantine_rule is null
),

latest as (
    {{ latest_version('checked', ['study_id', 'forecast_version', 'sponsor_cost_bucket', 'forecast_month'], '_extract_at') }}
)

select * from latest
