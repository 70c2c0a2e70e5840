{#- The sponsor's country plan: every study–country planned, with its planned sites,
    subjects and start-up dates. Every mart by study and country has a row for each. -#}
select
    -- ids
    study_id,
    country_code,
    -- plan
    planned_sites,
    planned_subjects,
    planned_country_ready_date,
    planned_first_site_ready_date,
    planned_fpi_date,
    -- lineage
    _delivery_id,
    _row_number
from {{ ref('int_sponsor__country_plan') }}
