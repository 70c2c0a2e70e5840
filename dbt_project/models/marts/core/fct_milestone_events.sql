{#- Milestone achievements by perspective, as of the as-of date, in canonical codes. -#}
select
    -- grain
    perspective,
    study_id,
    country_code,
    site_number,
    subject_id,
    milestone_code,
    -- dates
    milestone_date,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_milestones__by_perspective') }}
