{#- The latest accrual per study, month and rate code (by UpdatedAt). -#}
with checked as (
    select * from {{ ref('int_cro__accruals__checked') }}
    where _quarantine_rule is null
),

latest as (
    {{ latest_version('checked', ['cro_id', 'cro_study_ref', 'accrual_month', 'rate_code'], 'updated_at') }}
)

select * from latest
