{#- Conforming: every source row either conforms or is held with one specific reason.
    `checks` is a list of (condition, rule, offending value), tried in order after the
    row's cast error (from staging). Yields `_quarantine_rule`, `_quarantine_value` and
    `_quarantine_reason` (e.g. `unmapped_country: 'Untied States'`), all null when the
    row conforms. -#}
{% macro quarantine_columns(checks) -%}
    case
        when _cast_error is not null then 'invalid_value'
        {%- for condition, rule, value in checks %}
        when {{ condition }} then '{{ rule }}'
        {%- endfor %}
    end as _quarantine_rule,
    case
        when _cast_error is not null then _cast_error
        {%- for condition, rule, value in checks %}
        when {{ condition }} then cast({{ value }} as {{ dbt.type_string() }})
        {%- endfor %}
    end as _quarantine_value,
    case
        when _cast_error is not null then _cast_error
        {%- for condition, rule, value in checks %}
        when {{ condition }} then '{{ rule }}: ' || coalesce({{ in_quotes('cast(' ~ value ~ ' as ' ~ dbt.type_string() ~ ')') }}, 'null')
        {%- endfor %}
    end as _quarantine_reason
{%- endmacro %}

{#- A mapping row applies to deliveries extracted in [valid_from, valid_to). -#}
{% macro in_force(mapping_alias, date_expression) -%}
    ({{ date_expression }} >= {{ mapping_alias }}.valid_from
     and ({{ mapping_alias }}.valid_to is null or {{ date_expression }} < {{ mapping_alias }}.valid_to))
{%- endmacro %}

{#- A mapping seed with `cro_id = '*'` rows expanded to every CRO that delivers, where
    that CRO has no row of its own for the same code: a CRO's own mapping wins. -#}
{% macro resolve_cro_wildcards(mapping, code_columns, target_columns) -%}
    {%- set columns = code_columns + target_columns + ['valid_from', 'valid_to', 'change_ref'] -%}
    with mapping as (
        select cro_id, {{ columns | join(', ') }} from {{ mapping }}
    ),

    cros as (
        select distinct cro_id from {{ source('audit', 'delivery_ledger') }} where cro_id is not null
    ),

    own_rows as (
        select * from mapping where cro_id <> '*'
    ),

    inherited_rows as (
        select cros.cro_id, {% for column in columns %}mapping.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from mapping
        cross join cros
        where mapping.cro_id = '*'
            and not exists (
                select 1 from own_rows
                where own_rows.cro_id = cros.cro_id
                {%- for column in code_columns %}
                    and own_rows.{{ column }} = mapping.{{ column }}
                {%- endfor %}
            )
    )

    select * from own_rows
    union all
    select * from inherited_rows
{%- endmacro %}

{#- Money in the reporting currency, with the FX rate of the amount's month; the
    `fx` alias is a join to int_fx_rates on currency and month. Null where the converted
    amount does not fit decimal(18, 2), rather than failing every build: such a row is
    held by `out_of_reporting_range` (the contract gate already holds amounts above a
    billion; this keeps rows loaded before it, or a huge FX rate, from stopping dbt). -#}
{#- The amount is widened first: decimal(18, 2) times the rate's decimal(18, 10) overflows
    DuckDB's 64-bit decimal product. -#}
{% macro in_reporting_currency(amount, fx_alias='fx') -%}
    case when abs(cast({{ amount }} as decimal(20, 2)) * {{ fx_alias }}.rate_to_reporting) <= 9999999999999999.99
        then cast(cast({{ amount }} as decimal(20, 2)) * {{ fx_alias }}.rate_to_reporting as decimal(18, 2)) end
{%- endmacro %}

{#- The quarantine check of an amount whose conversion does not fit decimal(18, 2). -#}
{% macro out_of_reporting_range(amount, fx_alias='fx') -%}
    ({{ amount }} is not null and {{ fx_alias }}.rate_to_reporting is not null and {{ in_reporting_currency(amount, fx_alias) }} is null)
{%- endmacro %}

{#- The checks of a sponsor feed keyed by study and ISO country (country plan,
    enrollment plan): the country must be in the dictionary, the study known. -#}
{% macro check_sponsor_study_country(staged_model) -%}
    with staged as (
        select * from {{ ref(staged_model) }}
    ),

    known_studies as (
        select distinct study_id from {{ ref('int_sponsor__studies__checked') }} where _quarantine_rule is null
    ),

    countries as (
        select country_code from {{ ref('dict_countries') }}
    ),

    checked as (
        select
            staged.*,
            {{ quarantine_columns([
                ('countries.country_code is null', 'unknown_country', 'staged.country_code'),
                ('known_studies.study_id is null', 'unknown_study', 'staged.study_id'),
            ]) }}
        from staged
        left join countries
            on staged.country_code = countries.country_code
        left join known_studies
            on staged.study_id = known_studies.study_id
    )

    select * from checked
{%- endmacro %}
