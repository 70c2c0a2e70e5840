{#- Incremental builds of the large facts (visits, payments, events, accruals), so a
    weekly delivery does not rebuild years of history.

    Every row an incremental model writes carries `_built_at`, the start of the dbt
    invocation that wrote it; a downstream model finds what changed upstream since its own
    last build by comparing the two. A model's SQL change still needs `dbt build
    --full-refresh` of it, as for any dbt incremental model. -#}

{#- Incremental where the engine can delete rows of a table (delete+insert); on Spark,
    whose local Parquet tables cannot, the large facts are rebuilt whole each build (a
    Delta or Iceberg catalog would allow `merge`). -#}
{% macro incremental_materialization() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}

{% macro build_time() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- What the model's incremental state depends on besides its inputs: the as-of settings.
    A change of them (CG_AS_OF set, changed or unset, CG_AS_OF_DELIVERIES) rebuilds the
    model whole. -#}
{% macro as_of_basis() -%}
    '{{ var("as_of") or "latest" }}{{ "" if var("as_of_deliveries") == "delivered_by_as_of" else "+" ~ var("as_of_deliveries") }}'
{%- endmacro %}

{#- The final select of a model 1:1 with raw rows (the `__checked` models). On an
    incremental build every row is conformed again, which costs little (joins to small
    mapping tables), and only rows that are new or whose outcome changed are written: a
    mapping added or retired, a site renumbered, held rows that now conform, another
    reporting currency. `derived_columns` are the columns the model adds to its staged
    input. Sets the model's config (unique key: the raw row). A table that predates
    incremental builds is written whole once. -#}
{% macro new_or_changed_rows(relation, derived_columns) -%}
{{ config(
    materialized=incremental_materialization(),
    unique_key=['_delivery_id', '_row_number'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}
    select
        {{ relation }}.*,
        {{ build_time() }} as _built_at
    from {{ relation }}
    {%- if is_incremental() and has_column(this, '_built_at') %}
    left join {{ this }} as previous
        on {{ relation }}._delivery_id = previous._delivery_id
        and {{ relation }}._row_number = previous._row_number
    where previous._delivery_id is null
        {%- for column in derived_columns %}
        or {{ relation }}.{{ column }} is distinct from previous.{{ column }}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#- A filter on `alias` keeping the rows whose business key had a row of `upstream`
    written since this model's last build: the keys to compute again. -#}
{% macro key_changed_upstream(alias, upstream, key_columns) -%}
    exists (
        select 1
        from {{ upstream }} as changed
        where changed._built_at > (select coalesce(max(_built_at), {{ dbt.cast("'1900-01-01'", dbt.type_timestamp()) }}) from {{ this }})
        {%- for column in key_columns %}
            and changed.{{ column }} = {{ alias }}.{{ column }}
        {%- endfor %}
    )
{%- endmacro %}

{#- A model holding the latest conformed version of each key of a `__checked` model,
    incremental by that key (its unique_key, with the pre-hook `forget_changed_keys`): a
    build computes again only the keys with a row conformed since the last. Sets the
    model's config and writes its body. -#}
{% macro latest_conformed_version(checked_model, key_columns, version_column) -%}
{{ config(
    materialized=incremental_materialization(),
    unique_key=key_columns,
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ forget_changed_keys(ref('" ~ checked_model ~ "'), " ~ key_columns ~ ") }}",
) }}
{%- set checked = ref(checked_model) %}

with checked as (
    select * from {{ checked }} as versions
    where versions._quarantine_rule is null
    {%- if is_incremental() %}
        and {{ key_changed_upstream('versions', checked, key_columns) }}
    {%- endif %}
),

latest as (
    {{ latest_version('checked', key_columns, version_column) }}
),

final as (
    select
        latest.*,
        {{ as_of_basis() }} as _as_of_basis
    from latest
)

select * from final
{%- endmacro %}

{#- Pre-hook of a model incremental by key: deletes the rows of every key (`unit_columns`,
    e.g. a subject visit, or a study for events whose corrections stay within it) whose
    upstream rows changed since the last build; the model then computes those keys again,
    so a key left with no row to show (every version now held back) is gone. Every row
    goes when the as-of setting changed, or the table predates incremental builds. The
    model's unique_key is its row key (strategy delete+insert), which makes computing a
    key again harmless. -#}
{% macro forget_changed_keys(upstream, unit_columns) -%}
    {%- if is_incremental() and not has_column(this, '_as_of_basis') %}
    delete from {{ this }}
    {%- elif is_incremental() %}
    delete from {{ this }} as stale
    where stale._as_of_basis <> {{ as_of_basis() }}
        or {{ key_changed_upstream('stale', upstream, unit_columns) }}
    {%- endif %}
{%- endmacro %}

{% macro has_column(relation, column_name) -%}
    {{ return(column_name in (adapter.get_columns_in_relation(relation) | map(attribute='name') | list)) }}
{%- endmacro %}
