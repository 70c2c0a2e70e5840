{#- Enrollment against plan per study, country and month (docs/kpi-definitions.md):
    cumulative subjects randomized by the end of each month (CRO events, corrections
    applied) against the sponsor's plan. Every planned country of a study has a row for
    every month from the study's first plan month to the as-of month. A month without a
    plan row carries the last planned figure forward; before a country's first plan row
    nothing is planned yet (0). -#}
with as_of as (
    select {{ dbt.date_trunc('month', 'as_of_date') }} as as_of_month from {{ ref('int_as_of_date') }}
),

plan as (
    select study_id, country_code, plan_month_start, planned_randomized_cum
    from {{ ref('fct_enrollment_plan') }}
),

randomized as (
    select study_id, country_code, subject_id, randomized_date
    from {{ ref('dim_subject') }}
    where randomized_date is not null
),

{#- Every planned country, and any country that randomized without a plan. -#}
study_countries as (
    select study_id, country_code from {{ ref('fct_country_plan') }}
    union
    select study_id, country_code from plan
    union
    select study_id, country_code from randomized
),

study_ranges as (
    select study_id, min(plan_month_start) as first_month
    from plan
    group by study_id
),

months as (
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

planned as (
    select
        months.study_id,
        months.country_code,
        months.month_start,
        max(plan.plan_month_start) as plan_month_in_force
    from months
    left join plan
        on months.study_id = plan.study_id
        and months.country_code = plan.country_code
        and plan.plan_month_start <= months.month_start
    group by months.study_id, months.country_code, months.month_start
),

actuals as (
    select
        months.study_id,
        months.country_code,
        months.month_start,
        count(randomized.subject_id) as actual_randomized_cum
    from months
    left join randomized
        on months.study_id = randomized.study_id
        and months.country_code = randomized.country_code
        and randomized.randomized_date < {{ dbt.dateadd('month', 1, 'months.month_start') }}
    group by months.study_id, months.country_code, months.month_start
),

measured as (
    select
        planned.study_id,
        planned.country_code,
        planned.month_start,
        coalesce(plan.planned_randomized_cum, 0) as planned_randomized_cum,
        actuals.actual_randomized_cum
    from planned
    left join plan
        on planned.study_id = plan.study_id
        and planned.country_code = plan.country_code
        and planned.plan_month_in_force = plan.plan_month_start
    inner join actuals
        on planned.study_id = actuals.study_id
        and planned.country_code = actuals.country_code
        and planned.month_start = actuals.month_start
),

final as (
    select
        -- grain
        'shared' as perspective,
        study_id,
        country_code,
        {{ month_label('month_start') }} as month,
        -- measures
        cast(planned_randomized_cum as integer) as planned_randomized_cum,
        cast(actual_randomized_cum as integer) as actual_randomized_cum,
        cast(actual_randomized_cum - planned_randomized_cum as integer) as variance,
        cast(
            case when planned_randomized_cum > 0
                then 1.0 * actual_randomized_cum / planned_randomized_cum
            end as decimal(10, 4)
        ) as pct_of_plan
    from measured
)

select * from final
