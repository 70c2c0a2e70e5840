{#- Parsing delivered text into types. A value that does not parse becomes null; the raw
    gates quarantine such rows before they reach staging. Dispatched per adapter so the
    project runs beyond DuckDB. -#}

{#- `date_format` is the feed contract's, in strftime's notation (`%d-%b-%Y`), and is
    spelled here in each engine's own. -#}
{% macro parse_date(expression, date_format) -%}
    {{ return(adapter.dispatch('parse_date', 'common_ground')(expression, date_format)) }}
{%- endmacro %}

{% macro default__parse_date(expression, date_format) -%}
    cast(try_strptime({{ expression }}, '{{ date_format }}') as date)
{%- endmacro %}

{% macro spark__parse_date(expression, date_format) -%}
    to_date(try_to_timestamp({{ expression }}, '{{ strftime_as(date_format, {'%Y': 'yyyy', '%m': 'MM', '%d': 'dd', '%b': 'MMM'}) }}'))
{%- endmacro %}

{% macro postgres__parse_date(expression, date_format) -%}
    case when {{ expression }} ~ '^{{ strftime_as(date_format, {'%Y': '\d{4}', '%m': '\d{2}', '%d': '\d{2}', '%b': '[A-Za-z]{3}'}) }}$'
         then to_date({{ expression }}, '{{ strftime_as(date_format, {'%Y': 'YYYY', '%m': 'MM', '%d': 'DD', '%b': 'Mon'}) }}') end
{%- endmacro %}

{#- A strftime format with each directive replaced by its spelling in `directives`. -#}
{% macro strftime_as(date_format, directives) -%}
    {%- set spelled = namespace(text=date_format) -%}
    {%- for directive, spelling in directives.items() -%}
        {%- set spelled.text = spelled.text | replace(directive, spelling) -%}
    {%- endfor -%}
    {%- if '%' in spelled.text -%}
        {{ exceptions.raise_compiler_error('date format ' ~ date_format ~ ': a directive that ' ~ target.type ~ ' is not taught') }}
    {%- endif -%}
    {{ spelled.text }}
{%- endmacro %}

{#- ISO 8601 with `Z` or an offset, to a UTC timestamp without zone. -#}
{% macro parse_timestamp_utc(expression) -%}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'common_ground')(expression)) }}
{%- endmacro %}

{% macro default__parse_timestamp_utc(expression) -%}
    cast(try_cast({{ expression }} as timestamptz) at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro postgres__parse_timestamp_utc(expression) -%}
    (cast({{ expression }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- Spark's timestamp is an instant shown in the session time zone, which the profile
    sets to UTC (spark.sql.session.timeZone). -#}
{% macro spark__parse_timestamp_utc(expression) -%}
    try_cast({{ expression }} as timestamp)
{%- endmacro %}

{#- A cast that yields null instead of failing. DuckDB has try_cast; elsewhere the text
    must first match `pattern` (dbt's own safe_cast is a plain cast on some adapters). -#}
{% macro try_cast(expression, data_type, pattern) -%}
    {{ return(adapter.dispatch('try_cast', 'common_ground')(expression, data_type, pattern)) }}
{%- endmacro %}

{% macro default__try_cast(expression, data_type, pattern) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro postgres__try_cast(expression, data_type, pattern) -%}
    case when {{ expression }} ~ '{{ pattern }}' then cast({{ expression }} as {{ data_type }}) end
{%- endmacro %}

{#- The calendar date as written in an ISO 8601 timestamp, before any zone conversion. -#}
{% macro parse_local_date(expression) -%}
    {{ try_cast("substring(" ~ expression ~ ", 1, 10)", 'date', '^\d{4}-\d{2}-\d{2}') }}
{%- endmacro %}

{% macro parse_decimal(expression) -%}
    {{ try_cast(expression, 'decimal(18, 2)', '^-?\d+(\.\d+)?$') }}
{%- endmacro %}

{% macro parse_integer(expression) -%}
    {{ try_cast(expression, dbt.type_int(), '^-?\d+$') }}
{%- endmacro %}

{#- `YYYY-MM` to the first day of that month. -#}
{% macro parse_month(expression) -%}
    {{ try_cast(expression ~ " || '-01'", 'date', '^\d{4}-\d{2}-01$') }}
{%- endmacro %}

{% macro parse_flag(expression) -%}
    case upper({{ expression }}) when 'Y' then true when 'N' then false end
{%- endmacro %}

{#- Country names as CROs write them, normalised for matching against the mapping seed. -#}
{% macro normalize_name(expression) -%}
    lower(trim({{ expression }}))
{%- endmacro %}

{#- The first value of a row that does not parse, as a quarantine reason such as
    `invalid_date: VisitDate='03/11/2026'`, else null. `checks` lists
    (column as delivered, kind, date format) with kind one of date, timestamp, month,
    decimal, integer, flag. -#}
{% macro cast_error(checks) -%}
    {%- if not checks -%}
    cast(null as {{ dbt.type_string() }})
    {%- else -%}
    case
    {%- for column, kind, date_format in checks %}
        when {{ column }} is not null and {{ parsed(column, kind, date_format) }} is null
            then 'invalid_{{ kind }}: {{ column | replace('"', '') | replace('`', '') }}=' || {{ in_quotes(column) }}
    {%- endfor %}
    end
    {%- endif -%}
{%- endmacro %}

{% macro parsed(column, kind, date_format=none) -%}
    {%- if kind == 'date' -%} {{ parse_date(column, date_format) }}
    {%- elif kind == 'timestamp' -%} {{ parse_timestamp_utc(column) }}
    {%- elif kind == 'month' -%} {{ parse_month(column) }}
    {%- elif kind == 'decimal' -%} {{ parse_decimal(column) }}
    {%- elif kind == 'integer' -%} {{ parse_integer(column) }}
    {%- elif kind == 'flag' -%} {{ parse_flag(column) }}
    {%- else -%} {{ exceptions.raise_compiler_error('unknown kind ' ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#- A month as `YYYY-MM` text. -#}
{% macro month_label(date_expression) -%}
    {{ return(adapter.dispatch('month_label', 'common_ground')(date_expression)) }}
{%- endmacro %}

{% macro default__month_label(date_expression) -%}
    strftime({{ date_expression }}, '%Y-%m')
{%- endmacro %}

{% macro postgres__month_label(date_expression) -%}
    to_char({{ date_expression }}, 'YYYY-MM')
{%- endmacro %}

{% macro spark__month_label(date_expression) -%}
    date_format({{ date_expression }}, 'yyyy-MM')
{%- endmacro %}

{#- `expression` between single quotes, as reasons quote offending values (chr(39) is
    portable; the escaping of a quote inside a literal is not). -#}
{% macro in_quotes(expression) -%}
    chr(39) || {{ expression }} || chr(39)
{%- endmacro %}

{#- A text value as a SQL string literal of the target (Spark escapes with backslashes). -#}
{% macro text_literal(value) -%}
    {{ return(adapter.dispatch('text_literal', 'common_ground')(value)) }}
{%- endmacro %}

{% macro default__text_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__text_literal(value) -%}
    '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{#- dbt's cast, as model contracts and unit tests use it, with the contracts' `varchar` as
    Spark spells it (it has no varchar without a length); dbt_project.yml puts this project
    first in the search order of dbt's macros. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ 'string' if type | trim | lower == 'varchar' else type }})
{%- endmacro %}
