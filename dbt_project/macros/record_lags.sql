{#- fct_record_lags is incremental by delivery: the deliveries of events or visits with
    a record conformed since its last build, and its pre-hook that forgets their counts. -#}

{% macro deliveries_conformed_since_last_build() -%}
    {%- set last_build = "(select coalesce(max(_built_at), " ~ dbt.cast("'1900-01-01'", dbt.type_timestamp()) ~ ") from " ~ this ~ ")" %}
    select _delivery_id as delivery_id from {{ ref('int_cro__events__checked') }} where _built_at > {{ last_build }}
    union
    select _delivery_id as delivery_id from {{ ref('int_cro__visits__checked') }} where _built_at > {{ last_build }}
{%- endmacro %}

{% macro forget_recounted_deliveries() -%}
    {%- if is_incremental() and not has_column(this, '_built_at') %}
    delete from {{ this }}
    {%- elif is_incremental() %}
    delete from {{ this }} where delivery_id in ({{ deliveries_conformed_since_last_build() }})
    {%- endif %}
{%- endmacro %}
