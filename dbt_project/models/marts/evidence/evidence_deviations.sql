{#- Every CRO event behind kpi_deviations, per study, country and site: the DEVIATION_OPENED
    and DEVIATION_CLOSED events in force at the as-of date (corrections applied: a
    correction shows the event it corrects; voided events are gone, marts.audit_trail
    lists them), each with what it sets for its deviation, as fct_deviations reads them:
    the first opening sets opened_date, the latest event closes it (a DEVIATION_CLOSED) or
    keeps it open (a later opening). Each event carries its deviation's state, so the
    KPI's counts are those of the events that open a deviation. A deviation without a site
    is left out (the KPI counts per site). -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

events as (
    select * from {{ ref('int_cro__events_effective') }}
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
            order by occurred_date, occurred_at, recorded_at, event_id
        ) as first_of_type_rank
    from events
),

judged as (
    select
        ranked.*,
        deviations.country_code as deviation_country_code,
        deviations.site_number as deviation_site_number,
        deviations.severity as deviation_severity,
        deviations.opened_date,
        deviations.closed_date,
        as_of.as_of_date,
        case
            when ranked.event_type_code = 'DEVIATION_OPENED' and ranked.first_of_type_rank = 1 then 'opens'
            when ranked.latest_rank = 1 and ranked.event_type_code = 'DEVIATION_CLOSED' then 'closes'
            when ranked.latest_rank = 1 then 'keeps_open'
        end as sets,
        case
            when deviations.deviation_id is null then 'never_opened: no DEVIATION_OPENED of ' || ranked.deviation_id || ' is in force'
            when deviations.site_number is null then 'no_site: ' || ranked.deviation_id || ' names no site; the KPI counts per site'
            when ranked.event_type_code = 'DEVIATION_OPENED' and ranked.first_of_type_rank = 1 then null
            when ranked.latest_rank > 1 then 'superseded: a later event of ' || ranked.deviation_id || ' decides whether it is open'
        end as exclusion_reason
    from ranked
    cross join as_of
    left join {{ ref('fct_deviations') }} as deviations
        on ranked.cro_id = deviations.cro_id
        and ranked.study_id = deviations.study_id
        and ranked.deviation_id = deviations.deviation_id
),

final as (
    select
        -- grain of the KPI row it belongs to
        judged.study_id,
        coalesce(judged.deviation_country_code, judged.country_code) as country_code,
        coalesce(judged.deviation_site_number, judged.site_number) as site_code,
        -- the record
        judged.deviation_id,
        judged.event_id,
        judged.event_type_code as event_type,
        judged.occurred_date,
        judged.recorded_at,
        case when judged.supersedes_event_id is not null then 'corrects ' || judged.supersedes_event_id end as correction_applied,
        -- its deviation, as the KPI judges it at the as-of date
        judged.deviation_severity as severity,
        judged.opened_date,
        judged.closed_date,
        judged.as_of_date,
        {{ days_between('judged.opened_date', 'judged.closed_date') }} as days_to_close,
        case when judged.closed_date is null then {{ days_between('judged.opened_date', 'judged.as_of_date') }} end as days_open,
        -- how the KPI counts it
        judged.sets,
        judged.exclusion_reason is null as is_counted,
        judged.closed_date is null and judged.opened_date is not null as is_open,
        judged.exclusion_reason,
        {{ evidence_lineage('judged') }}
    from judged
    left join ledger
        on judged._delivery_id = ledger.delivery_id
)

select * from final
