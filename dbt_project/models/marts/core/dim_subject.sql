{#- One row per subject, from the CRO's events as they stand at the as-of date: where,
    and when screened, randomized, failed screening or withdrew. -#}
select
    -- ids
    cro_id,
    study_id,
    country_code,
    site_number,
    subject_id,
    -- dates
    screened_date,
    randomized_date,
    screen_failed_date,
    withdrawn_date,
    -- status
    subject_status,
    -- lineage of the (first) randomization: the record behind the CRO's LPI and enrollment
    _randomized_delivery_id,
    _randomized_row_number
from {{ ref('int_cro__subjects') }}
