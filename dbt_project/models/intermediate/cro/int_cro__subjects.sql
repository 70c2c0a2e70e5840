{#- One row per subject, from the CRO's events as they stand at the as-of date
    (corrections applied, voids removed): when the subject was screened, randomized,
    failed screening or withdrew, and where. -#}
with events as (
    select * from {{ ref('int_cro__events_effective') }}
    where subject_id is not null
),

final as (
    select
        -- ids
        cro_id,
        study_id,
        min(country_code) as country_code,
        min(site_number) as site_number,
        subject_id,
        -- dates
        min(case when cro_event_type = 'SUBJ_SCREENED' then occurred_date end) as screened_date,
        min(case when cro_event_type = 'SUBJ_RANDOMIZED' then occurred_date end) as randomized_date,
        min(case when cro_event_type = 'SUBJ_SCREEN_FAIL' then occurred_date end) as screen_failed_date,
        min(case when cro_event_type = 'SUBJ_WITHDRAWN' then occurred_date end) as withdrawn_date,
        -- status
        case
            when min(case when cro_event_type = 'SUBJ_WITHDRAWN' then occurred_date end) is not null then 'WITHDRAWN'
            when min(case when cro_event_type = 'SUBJ_RANDOMIZED' then occurred_date end) is not null then 'RANDOMIZED'
            when min(case when cro_event_type = 'SUBJ_SCREEN_FAIL' then occurred_date end) is not null then 'SCREEN_FAILED'
            else 'SCREENING'
        end as subject_status
    from events
    group by cro_id, study_id, subject_id
)

select * from final
