{#- The latest state of each site payment (by UpdatedAt), incremental by payment. -#}
{%- set key = ['cro_id', 'payment_id'] %}
{{ config(
    materialized='incremental',
    unique_key=key,
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ forget_changed_keys(ref('int_cro__site_payments__checked'), " ~ key ~ ") }}",
) }}

{{ latest_conformed_version(ref('int_cro__site_payments__checked'), key, 'updated_at') }}
