with staged as (
    select * from {{ ref('stg_sponsor__visit_schedule') }}
),

known_studies as (
    select distinct study_id from {{ ref('int_sponsor__studies__checked') }} where _quarantine_rule is null
),

checked as (
    select
        staged.*,
        {{ quarantine_columns([
            ('known_studies.study_id is null', 'unknown_study', 'staged.study_id'),
            ('staged.is_ctq is null', 'missing_ctq_flag', 'staged.visit_code'),
            ('staged.is_payable is null', 'missing_payable_flag', 'staged.visit_code'),
        ]) }}
    from staged
    left join known_studies
        on staged.study_id = known_studies.study_id
)

select * from checked
