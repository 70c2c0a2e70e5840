{#- CRO accruals per study, month and rate code. `internal_cost` is CRO-internal
    (_core.yml): the publish policy leaves it out of every view but the CRO's own. -#}
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
