{#- Lineage columns every staged row carries back to its delivery and row. -#}
{% macro lineage_columns() -%}
    _delivery_id,
    _source,
    _file_name,
    _file_sha256,
    _extract_at,
    cast(_extract_at as date) as _delivery_date,
    _row_number,
    _loaded_at
{%- endmacro %}

{#- Rows of the snapshot in force at the as-of date: each source's latest delivery
    extracted by then. -#}
{% macro current_snapshot(relation) -%}
    select staged.*
    from {{ relation }} as staged
    inner join (
        select versions._source as latest_source, max(versions._extract_at) as latest_extract_at
        from {{ relation }} as versions
        where {{ delivered_by_as_of('versions') }}
        group by versions._source
    ) as latest
        on staged._source = latest.latest_source
        and staged._extract_at = latest.latest_extract_at
{%- endmacro %}

{#- The latest version of each business key delivered by the as-of date: by the
    version column, then delivery order, then row order (a later row of a file wins). -#}
{% macro latest_version(relation, key_columns, version_column) -%}
    select *
    from (
        select
            versions.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by {{ version_column }} desc nulls last, _extract_at desc, _row_number desc
            ) as _version_rank
        from {{ relation }} as versions
        where {{ delivered_by_as_of('versions') }}
    ) as ranked
    where _version_rank = 1
{%- endmacro %}

{#- What had been delivered by the as-of date: the basis of reproducing any KPI as of a
    past date. With var as_of_deliveries `all`, every delivery counts (what do we know now
    about that date). -#}
{% macro delivered_by_as_of(alias) -%}
    {%- if var('as_of_deliveries') == 'all' -%}
    true
    {%- else -%}
    {{ alias }}._delivery_date <= (select as_of_date from {{ ref('int_as_of_date') }})
    {%- endif -%}
{%- endmacro %}

{#- The lineage of an evidence record, from the record's `_delivery_id` and `_row_number`
    and the model's `ledger` CTE (audit.delivery_ledger joined on the delivery). -#}
{% macro evidence_lineage(records) -%}
    ledger.source,
    ledger.file_name,
    ledger.sha256 as file_sha256,
    {{ records }}._row_number as row_number,
    ledger.extract_at,
    {{ records }}._delivery_id as delivery_id
{%- endmacro %}
