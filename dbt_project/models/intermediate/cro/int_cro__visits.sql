{#- The latest state of each subject visit (by UpdatedAt). -#}
with checked as (
    select * from {{ ref('int_cro__visits__checked') }}
    where _quarantine_rule is null
),

latest as (
    {{ latest_version('checked', ['cro_id', 'cro_study_ref', 'site_code', 'subject_id', 'cro_visit_code'], 'updated_at') }}
)

select * from latest
