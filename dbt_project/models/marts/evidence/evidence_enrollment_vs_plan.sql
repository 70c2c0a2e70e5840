{#- Every record behind kpi_enrollment_vs_plan, under each KPI row (study, country, month)
    it counts in (the measures are cumulative): the sponsor's plan row in force in that
    month (the latest plan month on or before it) and every subject randomized by the end
    of that month, with the CRO event that randomized it (corrections applied: a
    correction shows the event it corrects) and the delivery each came in. A subject
    counts from its first randomization, in the country dim_subject places it in. -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

plan as (
    select * from {{ ref('fct_enrollment_plan') }}
),

subjects as (
    select * from {{ ref('dim_subject') }}
    where randomized_date is not null
),

study_countries as (
    select study_id, country_code from {{ ref('fct_country_plan') }}
    union
    select study_id, country_code from plan
    union
    select study_id, country_code from subjects
),

study_ranges as (
    select study_id, min(plan_month_start) as first_month
    from plan
    group by study_id
),

kpi_rows as (
    select
        study_countries.study_id,
        study_countries.country_code,
        calendar.month_start
    from study_countries
    inner join study_ranges
        on study_countries.study_id = study_ranges.study_id
    cross join as_of
    inner join {{ ref('int_calendar_months') }} as calendar
        on calendar.month_start >= study_ranges.first_month
        and calendar.month_start <= as_of.as_of_month
),

plan_in_force as (
    select
        kpi_rows.study_id,
        kpi_rows.country_code,
        kpi_rows.month_start,
        max(plan.plan_month_start) as plan_month_start
    from kpi_rows
    inner join plan
        on kpi_rows.study_id = plan.study_id
        and kpi_rows.country_code = plan.country_code
        and plan.plan_month_start <= kpi_rows.month_start
    group by kpi_rows.study_id, kpi_rows.country_code, kpi_rows.month_start
),

planned as (
    select
        plan_in_force.study_id,
        plan_in_force.country_code,
        plan_in_force.month_start,
        'plan' as record_kind,
        plan.plan_month as record_id,
        'planned' as counted_as,
        plan.planned_randomized_cum,
        cast(null as date) as randomized_date,
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as correction_applied,
        plan._delivery_id,
        plan._row_number
    from plan_in_force
    inner join plan
        on plan_in_force.study_id = plan.study_id
        and plan_in_force.country_code = plan.country_code
        and plan_in_force.plan_month_start = plan.plan_month_start
),

randomizations as (
    select
        events.*,
        row_number() over (
            partition by events.cro_id, events.study_id, events.subject_id
            order by events.occurred_date, events.recorded_at, events.event_id
        ) as randomization_rank
    from {{ ref('int_cro__events_effective') }} as events
    where events.cro_event_type = 'SUBJ_RANDOMIZED'
),

randomized as (
    select
        kpi_rows.study_id,
        kpi_rows.country_code,
        kpi_rows.month_start,
        'subject' as record_kind,
        subjects.subject_id as record_id,
        'randomized' as counted_as,
        cast(null as integer) as planned_randomized_cum,
        subjects.randomized_date,
        randomizations.event_id,
        case when randomizations.supersedes_event_id is not null
            then 'corrects ' || randomizations.supersedes_event_id
        end as correction_applied,
        randomizations._delivery_id,
        randomizations._row_number
    from kpi_rows
    inner join subjects
        on kpi_rows.study_id = subjects.study_id
        and kpi_rows.country_code = subjects.country_code
        and subjects.randomized_date < {{ dbt.dateadd('month', 1, 'kpi_rows.month_start') }}
    left join randomizations
        on subjects.cro_id = randomizations.cro_id
        and subjects.study_id = randomizations.study_id
        and subjects.subject_id = randomizations.subject_id
        and randomizations.randomization_rank = 1
),

records as (
    select * from planned
    union all
    select * from randomized
),

final as (
    select
        -- grain of the KPI row it belongs to
        records.study_id,
        records.country_code,
        {{ month_label('records.month_start') }} as month,
        -- the record
        records.record_kind,
        records.record_id,
        cast(records.planned_randomized_cum as integer) as planned_randomized_cum,
        records.randomized_date,
        records.event_id,
        records.correction_applied,
        -- how the KPI counts it
        records.counted_as,
        {{ evidence_lineage('records') }}
    from records
    left join ledger
        on records._delivery_id = ledger.delivery_id
)

select * from final
