{#- The CRO's risk register as its events give it (docs/kpi-definitions.md, "Study
    operations marts"): one row per risk (fct_risks: a correction re-dates the opening,
    voids removed). Only the CRO keeps the register: `perspective = 'shared'`. days_open
    = close - open for a closed risk, as-of date - open for an open one. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

risks as (
    select * from {{ ref('fct_risks') }}
),

final as (
    select
        -- grain
        'shared' as perspective,
        risks.study_id,
        risks.risk_id,
        -- where (null for a study-level risk)
        risks.country_code,
        risks.site_number as site_code,
        -- descriptors
        risks.category,
        risks.severity,
        -- dates
        risks.opened_date,
        risks.closed_date,
        cast({{ days_between('risks.opened_date', 'coalesce(risks.closed_date, as_of.as_of_date)') }} as integer)
            as days_open,
        (risks.closed_date is null) as is_open
    from risks
    cross join as_of
)

select * from final
