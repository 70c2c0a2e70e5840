{#- The latest accrual per study, month and rate code (by UpdatedAt), incremental by that key. -#}
{%- set key = ['cro_id', 'cro_study_ref', 'accrual_month', 'rate_code'] %}
{{ config(
    materialized='incremental',
    unique_key=key,
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ forget_changed_keys(ref('int_cro__accruals__checked'), " ~ key ~ ") }}",
) }}

{{ latest_conformed_version(ref('int_cro__accruals__checked'), key, 'updated_at') }}
