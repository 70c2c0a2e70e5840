{#- CRO accruals per study, month and rate code. Audience: CRO only, since
    `internal_cost` is CRO-internal; sponsor-facing outputs read the amounts without it. -#}
select
    -- ids
    study_id,
    cro_id,
    cro_study_ref,
    accrual_month,
    accrual_month_start,
    rate_code,
    cost_bucket_code,
    -- amounts
    units,
    amount,
    currency,
    amount_reporting,
    internal_cost,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_cro__accruals') }}
