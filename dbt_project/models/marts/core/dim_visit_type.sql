{#- The protocol's visits per study and protocol version, with CTQ and payable flags. -#}
select
    -- ids
    study_id,
    protocol_version,
    visit_code,
    visit_name,
    -- schedule
    planned_day,
    -- flags
    is_ctq,
    is_payable,
    -- amounts
    site_fee,
    fee_currency
from {{ ref('int_sponsor__visit_schedule') }}
