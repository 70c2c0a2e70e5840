{#- Protocol deviations per site (docs/kpi-definitions.md, "Study operations marts"),
    from the CRO's deviations (fct_deviations: corrections and voids applied). Only the CRO
    records deviations: `perspective = 'shared'`. A deviation is resolved when closed; days
    to close = close - open, medians over the closed ones; open over 30 days = open and
    opened more than 30 days before the as-of date. One row per site the CRO lists or with
    a deviation, and one row (site_code null) for a planned study-country without any. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

deviations as (
    select * from {{ ref('fct_deviations') }}
),

plan as (
    select study_id, country_code from {{ ref('fct_country_plan') }}
),

known_sites as (
    select study_id, country_code, site_number from {{ ref('dim_site') }}
    where study_id is not null and site_number is not null
    union
    select study_id, country_code, site_number from deviations
),

scopes as (
    select study_id, country_code, site_number from known_sites
    union
    select plan.study_id, plan.country_code, cast(null as {{ dbt.type_string() }}) as site_number
    from plan
    where not exists (
        select 1 from known_sites
        where known_sites.study_id = plan.study_id and known_sites.country_code = plan.country_code
    )
),

per_site as (
    select
        deviations.study_id,
        deviations.country_code,
        deviations.site_number,
        count(*) as opened,
        sum(case when deviations.closed_date is not null then 1 else 0 end) as closed,
        sum(case when deviations.closed_date is null then 1 else 0 end) as open_now,
        sum(case when deviations.closed_date is null and deviations.severity = 'IMPORTANT' then 1 else 0 end)
            as important_open,
        {{ median(days_between('deviations.opened_date', 'deviations.closed_date')) }} as median_days_to_close,
        sum(
            case
                when deviations.closed_date is null
                    and {{ days_between('deviations.opened_date', 'as_of.as_of_date') }} > 30 then 1
                else 0
            end
        ) as open_over_30_days
    from deviations
    cross join as_of
    group by deviations.study_id, deviations.country_code, deviations.site_number
),

final as (
    select
        -- grain
        'shared' as perspective,
        scopes.study_id,
        scopes.country_code,
        scopes.site_number as site_code,
        -- counts
        cast(coalesce(per_site.opened, 0) as integer) as opened,
        cast(coalesce(per_site.closed, 0) as integer) as closed,
        cast(coalesce(per_site.open_now, 0) as integer) as open_now,
        cast(coalesce(per_site.important_open, 0) as integer) as important_open,
        -- time to close (calendar days, closed deviations only)
        cast(per_site.median_days_to_close as decimal(10, 1)) as median_days_to_close,
        cast(coalesce(per_site.open_over_30_days, 0) as integer) as open_over_30_days
    from scopes
    left join per_site
        on scopes.study_id = per_site.study_id
        and scopes.country_code = per_site.country_code
        and scopes.site_number = per_site.site_number
)

select * from final
