{#- The latest state of each site payment (by UpdatedAt). Incremental by payment: a
    build computes again only the payments with a version conformed since the last. -#}
{%- set key = ['cro_id', 'payment_id'] %}
{{ config(
    materialized='incremental',
    unique_key=key,
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ forget_changed_keys(ref('int_cro__site_payments__checked'), " ~ key ~ ") }}",
) }}

with checked as (
    select * from {{ ref('int_cro__site_payments__checked') }} as versions
    where versions._quarantine_rule is null
    {%- if is_incremental() %}
        and {{ key_changed_upstream('versions', ref('int_cro__site_payments__checked'), key) }}
    {%- endif %}
),

latest as (
    {{ latest_version('checked', key, 'updated_at') }}
),

final as (
    select
        latest.*,
        {{ as_of_basis() }} as _as_of_basis
    from latest
)

select * from final
