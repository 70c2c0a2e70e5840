{#- Every CRO study reference ever delivered, in its latest conformed version. -#}
with checked as (
    select * from {{ ref('int_cro__studies__checked') }}
    where _quarantine_rule is null
),

latest as (
    {{ latest_version('checked', ['cro_id', 'cro_study_ref'], '_extract_at') }}
)

select * from latest
