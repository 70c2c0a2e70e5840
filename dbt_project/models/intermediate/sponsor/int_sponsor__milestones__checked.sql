with staged as (
    select * from {{ ref('stg_sponsor__milestones') }}
),

known_studies as (
    select distinct study_id from {{ ref('int_sponsor__studies__checked') }} where _quarantine_rule is null
),

countries as (
    select country_code from {{ ref('dict_countries') }}
),

milestone_codes as (
    select * from {{ ref('map_sponsor_milestones') }}
),

checked as (
    select
        staged.*,
        milestone_codes.milestone_code,
        {{ quarantine_columns([
            ('milestone_codes.milestone_code is null', 'unmapped_milestone', 'staged.sponsor_milestone_code'),
            ('staged.country_code is not null and countries.country_code is null', 'unknown_country', 'staged.country_code'),
            ('known_studies.study_id is null', 'unknown_study', 'staged.study_id'),
        ]) }}
    from staged
    left join milestone_codes
        on staged.sponsor_milestone_code = milestone_codes.sponsor_milestone_code
        and {{ in_force('milestone_codes', 'staged._delivery_date') }}
    left join countries
        on staged.country_code = countries.country_code
    left join known_studies
        on staged.study_id = known_studies.study_id
)

select * from checked
