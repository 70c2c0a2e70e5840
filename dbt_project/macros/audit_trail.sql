{#- Changes between consecutive deliveries of one snapshot feed from one source, per record
    (its key, `snapshot_key` in the source's meta): a value changed (one row per column,
    old and new value), a record removed or added (the whole record as `column=value; ...`).
    Values are compared as delivered text, so a change in spelling is a change. -#}
{% macro snapshot_changes(source_table) -%}
    {%- set relation = source(source_table.source_name, source_table.name) %}
    {%- set key_columns = source_table.config.meta.snapshot_key %}
    {%- set value_columns = [] %}
    {%- for column in adapter.get_columns_in_relation(relation) %}
        {%- if not column.name.startswith('_') and column.name not in key_columns %}
            {%- do value_columns.append(column.name) %}
        {%- endif %}
    {%- endfor %}
    {%- set feed = source_table.name.split('__')[1] %}
    {%- set feed_rows = 'rows_' ~ source_table.name %}
    {{ feed_rows }} as (
        select
            _delivery_id,
            _source,
            {{ labelled_values(key_columns) }} as record_key,
            {{ labelled_values(value_columns) }} as record_values
            {%- for column in value_columns %},
            {{ adapter.quote(column) }} as value_{{ loop.index }}
            {%- endfor %}
        from {{ relation }}
    ),

    {{ feed_rows }}_deliveries as (
        select
            ledger.delivery_id,
            ledger.source,
            ledger.file_name,
            ledger.extract_at,
            ledger.ingested_at,
            lag(ledger.delivery_id) over (partition by ledger.source order by ledger.extract_at, ledger.delivery_id) as previous_delivery_id
        from {{ source('audit', 'delivery_ledger') }} as ledger
        where ledger.feed = '{{ feed }}'
            and ledger.delivery_id in (select _delivery_id from {{ feed_rows }})
    ),

    {{ feed_rows }}_pairs as (
        select
            deliveries.*,
            previous.file_name as previous_file_name,
            previous.extract_at as previous_extract_at
        from {{ feed_rows }}_deliveries as deliveries
        inner join {{ feed_rows }}_deliveries as previous
            on deliveries.previous_delivery_id = previous.delivery_id
    ),

    {{ feed_rows }}_changes as (
        {%- for column in value_columns %}
        select
            pairs.*,
            new_rows.record_key,
            'value_changed' as change_type,
            '{{ column }}' as column_name,
            old_rows.value_{{ loop.index }} as old_value,
            new_rows.value_{{ loop.index }} as new_value
        from {{ feed_rows }}_pairs as pairs
        inner join {{ feed_rows }} as new_rows
            on pairs.delivery_id = new_rows._delivery_id
        inner join {{ feed_rows }} as old_rows
            on pairs.previous_delivery_id = old_rows._delivery_id
            and new_rows.record_key = old_rows.record_key
        where coalesce(old_rows.value_{{ loop.index }}, '') <> coalesce(new_rows.value_{{ loop.index }}, '')
        union all
        {%- endfor %}
        select
            pairs.*,
            old_rows.record_key,
            'row_removed' as change_type,
            cast(null as {{ dbt.type_string() }}) as column_name,
            old_rows.record_values as old_value,
            cast(null as {{ dbt.type_string() }}) as new_value
        from {{ feed_rows }}_pairs as pairs
        inner join {{ feed_rows }} as old_rows
            on pairs.previous_delivery_id = old_rows._delivery_id
        where not exists (
            select 1 from {{ feed_rows }} as new_rows
            where new_rows._delivery_id = pairs.delivery_id and new_rows.record_key = old_rows.record_key
        )
        union all
        select
            pairs.*,
            new_rows.record_key,
            'row_added' as change_type,
            cast(null as {{ dbt.type_string() }}) as column_name,
            cast(null as {{ dbt.type_string() }}) as old_value,
            new_rows.record_values as new_value
        from {{ feed_rows }}_pairs as pairs
        inner join {{ feed_rows }} as new_rows
            on pairs.delivery_id = new_rows._delivery_id
        where not exists (
            select 1 from {{ feed_rows }} as old_rows
            where old_rows._delivery_id = pairs.previous_delivery_id and old_rows.record_key = new_rows.record_key
        )
    )
{%- endmacro %}

{#- `column=value; column=value` over delivered text columns, empty values as ''. -#}
{% macro labelled_values(columns) -%}
    {%- for column in columns -%}
        '{{ column }}=' || coalesce(cast({{ adapter.quote(column) }} as {{ dbt.type_string() }}), '')
        {%- if not loop.last %} || '; ' || {% endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- A CRO event as the audit trail shows it: its type, when it happened and was recorded. -#}
{% macro event_values(alias) -%}
    'type=' || coalesce({{ alias }}.cro_event_type, '')
    || '; at=' || coalesce(cast({{ alias }}.occurred_at as {{ dbt.type_string() }}), '')
    || '; recorded_at=' || coalesce(cast({{ alias }}.recorded_at as {{ dbt.type_string() }}), '')
{%- endmacro %}
