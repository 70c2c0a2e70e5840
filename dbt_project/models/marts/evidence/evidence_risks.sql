{#- Every CRO event behind kpi_risks, per risk: the RISK_OPENED and RISK_CLOSED events in
    force at the as-of date (corrections applied: a correction shows the event it corrects,
    e.g. a re-dated opening; voided events are gone, marts.audit_trail lists them), each
    with what it sets, as fct_risks reads them: the first opening sets opened_date, the
    latest event closes the risk (a RISK_CLOSED) or keeps it open (a later opening).
    days_open runs from the opening to the closing, or to the as-of date while open. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

events as (
    select * from {{ ref('int_cro__events_effective') }}
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
            order by occurred_date, occurred_at, recorded_at, event_id
        ) as first_of_type_rank
    from events
),

judged as (
    select
        ranked.*,
        as_of.as_of_date,
        case
            when ranked.event_type_code = 'RISK_OPENED' and ranked.first_of_type_rank = 1 then 'opens'
            when ranked.latest_rank = 1 and ranked.event_type_code = 'RISK_CLOSED' then 'closes'
            when ranked.latest_rank = 1 then 'keeps_open'
        end as sets,
        case
            when risks.risk_id is null then 'never_opened: no RISK_OPENED of ' || ranked.risk_id || ' is in force'
            when ranked.event_type_code = 'RISK_OPENED' and ranked.first_of_type_rank = 1 then null
            when ranked.latest_rank > 1 then 'superseded: a later event of ' || ranked.risk_id || ' decides whether it is open'
        end as exclusion_reason
    from ranked
    cross join as_of
    left join {{ ref('fct_risks') }} as risks
        on ranked.cro_id = risks.cro_id
        and ranked.study_id = risks.study_id
        and ranked.risk_id = risks.risk_id
),

final as (
    select
        -- grain of the KPI row it belongs to
        judged.study_id,
        judged.risk_id,
        -- the record
        judged.event_id,
        judged.event_type_code as event_type,
        judged.country_code,
        judged.site_number as site_code,
        judged.category,
        judged.severity,
        judged.occurred_date,
        judged.recorded_at,
        case when judged.supersedes_event_id is not null then 'corrects ' || judged.supersedes_event_id end as correction_applied,
        judged.as_of_date,
        -- how the KPI counts it
        judged.sets,
        judged.exclusion_reason is null as is_counted,
        judged.exclusion_reason,
        {{ evidence_lineage('judged') }}
    from judged
    left join ledger
        on judged._delivery_id = ledger.delivery_id
)

select * from final
