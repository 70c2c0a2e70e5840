{#- The sponsor's planned cumulative randomized subjects per study, country and month. -#}
select
    -- ids
    study_id,
    country_code,
    plan_month,
    plan_month_start,
    -- plan
    planned_randomized_cum,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_sponsor__enrollment_plan') }}
