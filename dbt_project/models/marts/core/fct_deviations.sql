{#- One row per protocol deviation (cro_id, study_id, deviation_id), from the CRO's
    effective events at the as-of date (corrections applied, voided events gone): opened on
    its first DEV_OPENED, closed when its latest event is a DEV_CLOSED (a correction that
    turns the close into an opening, or a later DEV_OPENED, reopens it). A deviation whose
    every event was voided has no row. docs/kpi-definitions.md, "Study operations marts". -#}
with events as (
    select
        cro_id,
        study_id,
        country_code,
        site_number,
        subject_id,
        deviation_id,
        event_type_code,
        severity,
        occurred_at,
        occurred_date,
        recorded_at
    from {{ ref('int_cro__events_effective') }}
    where event_type_code in ('DEVIATION_OPENED', 'DEVIATION_CLOSED')
        and deviation_id is not null
        and study_id is not null
),

ranked as (
    select
        events.*,
        row_number() over (
            partition by cro_id, study_id, deviation_id
            order by occurred_at desc, case when event_type_code = 'DEVIATION_CLOSED' then 1 else 0 end desc, recorded_at desc
        ) as latest_rank,
        row_number() over (
            partition by cro_id, study_id, deviation_id, event_type_code
            order by occurred_at desc, recorded_at desc
        ) as latest_of_type_rank
    from events
),

per_deviation as (
    select
        cro_id,
        study_id,
        deviation_id,
        min(case when event_type_code = 'DEVIATION_OPENED' then occurred_date end) as opened_date,
        max(case when latest_rank = 1 and event_type_code = 'DEVIATION_CLOSED' then occurred_date end) as closed_date,
        max(case when latest_of_type_rank = 1 and event_type_code = 'DEVIATION_OPENED' then severity end) as severity,
        max(case when latest_of_type_rank = 1 and event_type_code = 'DEVIATION_OPENED' then country_code end) as opened_country_code,
        max(case when latest_rank = 1 then country_code end) as latest_country_code,
        max(case when latest_of_type_rank = 1 and event_type_code = 'DEVIATION_OPENED' then site_number end) as opened_site_number,
        max(case when latest_rank = 1 then site_number end) as latest_site_number,
        max(case when latest_rank = 1 then subject_id end) as subject_id,
        count(*) as events
    from ranked
    group by cro_id, study_id, deviation_id
),

final as (
    select
        -- ids
        cro_id,
        study_id,
        coalesce(opened_country_code, latest_country_code) as country_code,
        coalesce(opened_site_number, latest_site_number) as site_number,
        subject_id,
        deviation_id,
        -- descriptors
        severity,
        -- dates
        opened_date,
        closed_date,
        -- state
        case when closed_date is null then 'OPEN' else 'CLOSED' end as deviation_state,
        cast(events as integer) as events
    from per_deviation
    where opened_date is not null
)

select * from final
