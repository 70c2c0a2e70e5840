{#- The latest state of each site payment, in canonical codes and the reporting
    currency. A view: the rows live in the incremental int_cro__site_payments, and a
    table would copy millions of rows on every build. -#}
{{ config(materialized='view') }}

select
    -- ids
    payment_id,
    study_id,
    country_code,
    site_number,
    subject_id,
    visit_code,
    cro_id,
    cro_study_ref,
    site_code as cro_site_code,
    cro_visit_code,
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
    _row_number,
    _built_at
from {{ ref('int_cro__site_payments') }}
