with staged as (
    select * from {{ ref('stg_sponsor__enrollment_plan') }}
),

known_studies as (
    select distinct study_id from {{ ref('int_sponsor__studies__checked') }} where _quarantine_rule is null
),

countries as (
    select country_code from {{ ref('dict_countries') }}
),

checked as (
    select
        staged.*,
        {{ quarantine_columns([
            ('countries.country_code is null', 'unknown_country', 'staged.country_code'),
            ('known_studies.study_id is null', 'unknown_study', 'staged.study_id'),
        ]) }}
    from staged
    left join countries
        on staged.country_code = countries.country_code
    left join known_studies
        on staged.study_id = known_studies.study_id
)

select * from checked
