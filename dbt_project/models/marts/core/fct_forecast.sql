select
    -- ids
    study_id,
    forecast_version,
    forecast_version_start,
    cost_bucket_code,
    sponsor_cost_bucket,
    forecast_month,
    forecast_month_start,
    -- amounts
    amount,
    currency,
    amount_reporting,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_sponsor__forecast') }}
