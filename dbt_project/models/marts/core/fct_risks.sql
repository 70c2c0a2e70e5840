{#- One row per risk of the CRO's risk register (cro_id, study_id, risk_id), from the
    effective events at the as-of date (corrections applied: a correction of RISK_OPENED
    re-dates the opening; voided events gone). Severity, category and place come from the
    effective RISK_OPENED; the risk is closed when its latest event is a RISK_CLOSED.
    docs/kpi-definitions.md, "Study operations marts". -#}
with events as (
    select
        cro_id,
        study_id,
        country_code,
        site_number,
        risk_id,
        event_type_code,
        severity,
        category,
        occurred_at,
        occurred_date,
        recorded_at
    from {{ ref('int_cro__events_effective') }}
    where event_type_code in ('RISK_OPENED', 'RISK_CLOSED')
        and risk_id is not null
        and study_id is not null
),

ranked as (
    select
        events.*,
        row_number() over (
            partition by cro_id, study_id, risk_id
            order by occurred_at desc, case when event_type_code = 'RISK_CLOSED' then 1 else 0 end desc, recorded_at desc
        ) as latest_rank,
        row_number() over (
            partition by cro_id, study_id, risk_id, event_type_code
            order by occurred_at desc, recorded_at desc
        ) as latest_of_type_rank
    from events
),

per_risk as (
    select
        cro_id,
        study_id,
        risk_id,
        min(case when event_type_code = 'RISK_OPENED' then occurred_date end) as opened_date,
        max(case when latest_rank = 1 and event_type_code = 'RISK_CLOSED' then occurred_date end) as closed_date,
        max(case when latest_of_type_rank = 1 and event_type_code = 'RISK_OPENED' then severity end) as severity,
        max(case when latest_of_type_rank = 1 and event_type_code = 'RISK_OPENED' then category end) as category,
        max(case when latest_of_type_rank = 1 and event_type_code = 'RISK_OPENED' then country_code end) as country_code,
        max(case when latest_of_type_rank = 1 and event_type_code = 'RISK_OPENED' then site_number end) as site_number
    from ranked
    group by cro_id, study_id, risk_id
),

final as (
    select
        -- ids
        cro_id,
        study_id,
        risk_id,
        country_code,
        site_number,
        -- descriptors
        category,
        severity,
        -- dates
        opened_date,
        closed_date,
        -- state
        case when closed_date is null then 'OPEN' else 'CLOSED' end as risk_state
    from per_risk
    where opened_date is not null
)

select * from final
