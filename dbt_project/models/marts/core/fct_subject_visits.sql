{#- The latest state of each subject visit, in protocol visit codes. A view: the rows
    live in the incremental int_cro__visits, and a table would copy millions of rows on
    every build. -#}
{{ config(materialized='view') }}

select
    -- ids
    study_id,
    country_code,
    site_number,
    subject_id,
    visit_code,
    cro_id,
    cro_study_ref,
    site_code as cro_site_code,
    cro_visit_code,
    finance_state_code,
    -- dates
    visit_date,
    sdv_date,
    updated_at,
    -- flags
    is_ctq,
    is_payable,
    -- lineage
    _delivery_id,
    _row_number,
    _built_at
from {{ ref('int_cro__visits') }}
