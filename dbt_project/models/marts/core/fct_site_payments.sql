select
    -- ids
    payment_id,
    study_id,
    country_code,
    site_number,
    subject_id,
    visit_code,
    cro_id,
    payment_status,
    -- dates
    payable_date,
    paid_date,
    updated_at,
    -- amounts
    amount,
    currency,
    amount_reporting,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_cro__site_payments') }}
