select
    -- ids
    invoice_id,
    study_id,
    cro_id,
    cost_bucket_code,
    invoice_status,
    -- dates
    invoice_date,
    paid_date,
    updated_at,
    -- amounts
    amount,
    currency,
    amount_reporting,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_sponsor__invoices') }}
