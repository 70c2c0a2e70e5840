{#- The median: the aggregate for cycle times (docs/kpi-definitions.md). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'common_ground')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro postgres__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{#- Calendar days from `start` to `end` (dates or timestamps), a bigint on every engine
    (dbt's datediff is an integer on PostgreSQL). -#}
{% macro days_between(start, end) -%}
    cast({{ dbt.datediff(start, end, 'day') }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Whole hours from `start` to `end` (timestamps), a bigint on every engine (dbt's
    datediff is a float on PostgreSQL). -#}
{% macro hours_between(start, end) -%}
    cast({{ dbt.datediff(start, end, 'hour') }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- The earliest of several dates, ignoring the ones that are null (null when all are);
    DuckDB's and PostgreSQL's least() skip nulls, adapters whose least() does not get
    their own dispatch. -#}
{% macro least_of(expressions) -%}
    {{ return(adapter.dispatch('least_of', 'common_ground')(expressions)) }}
{%- endmacro %}

{% macro default__least_of(expressions) -%}
    least({{ expressions | join(', ') }})
{%- endmacro %}
