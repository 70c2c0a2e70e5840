{#- Masking of sensitive delivered values (a raw column whose `meta: sensitivity` is not
    `shared`, declared once in models/staging/_raw__sources.yml, from the feed contract) where a held row is shown to
    everyone: marts.quarantined_rows. The CRO's own receipt keeps the values. -#}

{#- [(side, feed, [sensitive delivered columns])], from the raw source's column meta. -#}
{% macro sensitive_raw_columns() -%}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for source in graph.sources.values() if source.source_name == 'raw' -%}
            {%- set columns = [] -%}
            {%- for column in source.columns.values() -%}
                {%- set meta = column.get('config', {}).get('meta', {}) or column.get('meta', {}) -%}
                {%- if meta.get('sensitivity', 'shared') != 'shared' -%}
                    {%- do columns.append(column.name) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- if columns -%}
                {%- do found.append(source.name.split('__', 1) + [columns]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}

{#- `raw_values` of a held row (the row as a JSON object, or the line as delivered when
    it could not be read) with each sensitive value masked; an unreadable line of a feed
    with sensitive columns is masked whole, since its fields cannot be told apart. -#}
{% macro mask_held_values(side, feed, raw_values) -%}
    {{ _mask_by_feed(side, feed, raw_values, 'values') }}
{%- endmacro %}

{#- A held row's reason with each quoted sensitive value (`InternalCost='...'`) masked. -#}
{% macro mask_held_reason(side, feed, reason) -%}
    {{ _mask_by_feed(side, feed, reason, 'reason') }}
{%- endmacro %}

{% macro _mask_by_feed(side, feed, text, kind) -%}
    {%- set sensitive = sensitive_raw_columns() -%}
    {%- if not sensitive -%}
        {{ text }}
    {%- else -%}
        case
            {%- for feed_side, feed_name, columns in sensitive %}
            when {{ side }} = '{{ feed_side }}' and {{ feed }} = '{{ feed_name }}' then
                {%- if kind == 'values' %}
                case when left({{ text }}, 1) = '{' then {{ _mask_json_values(text, columns) }}
                    else '*** (unreadable row with CRO-internal fields: see the receipt sent to its sender)' end
                {%- else %}
                {{ _mask_quoted_values(text, columns) }}
                {%- endif %}
            {%- endfor %}
            else {{ text }}
        end
    {%- endif -%}
{%- endmacro %}

{% macro _mask_json_values(text, columns) -%}
    {%- set masked_text = namespace(sql=text) -%}
    {%- for column in columns -%}
        {%- set pattern = '"' ~ column ~ '": *"(?:[^"\\\\]|\\\\.)*"' -%}
        {%- set masked_text.sql = replace_all_matches(masked_text.sql, pattern, '"' ~ column ~ '": "***"') -%}
    {%- endfor -%}
    {{ masked_text.sql }}
{%- endmacro %}

{% macro _mask_quoted_values(text, columns) -%}
    {%- set masked_text = namespace(sql=text) -%}
    {%- for column in columns -%}
        {%- set pattern = column ~ "=(?:'(?:[^'\\\\]|\\\\.)*'|\"(?:[^\"\\\\]|\\\\.)*\")" -%}
        {%- set masked_text.sql = replace_all_matches(masked_text.sql, pattern, column ~ "='***'") -%}
    {%- endfor -%}
    {{ masked_text.sql }}
{%- endmacro %}

{#- Every match of the regular expression `pattern` in `text` replaced (both given as
    plain text, written as literals of the target). -#}
{% macro replace_all_matches(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('replace_all_matches', 'common_ground')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro default__replace_all_matches(text, pattern, replacement) -%}
    {{ return("regexp_replace(" ~ text ~ ", " ~ text_literal(pattern) ~ ", " ~ text_literal(replacement) ~ ", 'g')") }}
{%- endmacro %}

{#- Spark's regexp_replace replaces every match; its fourth argument is a position. -#}
{% macro spark__replace_all_matches(text, pattern, replacement) -%}
    {{ return("regexp_replace(" ~ text ~ ", " ~ text_literal(pattern) ~ ", " ~ text_literal(replacement) ~ ")") }}
{%- endmacro %}
