{#- Parsing delivered text into types. A value that does not parse becomes null; the raw
    gates quarantine such rows before they reach staging. Dispatched per adapter so the
    project runs beyond DuckDB. -#}

{% macro parse_date(expression, side) -%}
    {{ return(adapter.dispatch('parse_date', 'common_ground')(expression, side)) }}
{%- endmacro %}

{% macro default__parse_date(expression, side) -%}
    cast(try_strptime({{ expression }}, '{{ "%d-%b-%Y" if side == "cro" else "%Y-%m-%d" }}') as date)
{%- endmacro %}

{% macro postgres__parse_date(expression, side) -%}
    case when {{ expression }} ~ '{{ "^\d{2}-[A-Za-z]{3}-\d{4}$" if side == "cro" else "^\d{4}-\d{2}-\d{2}$" }}'
         then to_date({{ expression }}, '{{ "DD-Mon-YYYY" if side == "cro" else "YYYY-MM-DD" }}') end
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

{% macro parse_decimal(expression) -%}
    {{ dbt.safe_cast(expression, 'decimal(18, 2)') }}
{%- endmacro %}

{% macro parse_integer(expression) -%}
    {{ dbt.safe_cast(expression, dbt.type_int()) }}
{%- endmacro %}

{#- `YYYY-MM` to the first day of that month. -#}
{% macro parse_month(expression) -%}
    {{ dbt.safe_cast(expression ~ " || '-01'", 'date') }}
{%- endmacro %}

{% macro parse_flag(expression) -%}
    case upper({{ expression }}) when 'Y' then true when 'N' then false end
{%- endmacro %}

{#- Country names as CROs write them, normalised for matching against the mapping seed. -#}
{% macro normalize_name(expression) -%}
    lower(trim({{ expression }}))
{%- endmacro %}
