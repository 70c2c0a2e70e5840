{#- The latest state of each subject visit (by UpdatedAt), incremental by subject visit. -#}
{%- set key = ['cro_id', 'cro_study_ref', 'site_code', 'subject_id', 'cro_visit_code'] %}
{{ config(
    materialized='incremental',
    unique_key=key,
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ forget_changed_keys(ref('int_cro__visits__checked'), " ~ key ~ ") }}",
) }}

{{ latest_conformed_version(ref('int_cro__visits__checked'), key, 'updated_at') }}
