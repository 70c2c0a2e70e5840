{#- Sites keyed by sponsor study id and sponsor site number, with the CRO's site code. -#}
select
    -- ids
    study_id,
    site_number,
    cro_id,
    cro_study_ref,
    site_code as cro_site_code,
    -- descriptors
    country_code,
    site_status,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_cro__sites') }}
