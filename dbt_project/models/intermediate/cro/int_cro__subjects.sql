{#- One row per subject, from the CRO's events as they stand at the as-of date
    (corrections applied, voids removed): when the subject was screened, randomized,
    failed screening or withdrew, and where, with the delivery row of its (first)
    randomization, the record behind the CRO's LPI and enrollment. -#}
with events as (
    select * from {{ ref('int_cro__events_effective') }}
    where subject_id is not null
),

first_randomizations as (
    select cro_id, study_id, subject_id, _delivery_id, _row_number
    from (
        select
            events.*,
            row_number() over (
                partition by cro_id, study_id, subject_id order by occurred_date, recorded_at, event_id
            ) as randomization_order
        from events
        where cro_event_type = 'SUBJ_RANDOMIZED'
    ) as randomizations
    where randomization_order = 1
),

per_subject as (
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
),

final as (
    select
        per_subject.*,
        -- lineage of the randomization
        first_randomizations._delivery_id as _randomized_delivery_id,
        first_randomizations._row_number as _randomized_row_number
    from per_subject
    left join first_randomizations
        on per_subject.cro_id = first_randomizations.cro_id
        and per_subject.study_id = first_randomizations.study_id
        and per_subject.subject_id = first_randomizations.subject_id
)

select * from final
