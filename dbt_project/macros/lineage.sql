{#- Lineage columns every staged row carries back to its delivery and row. -#}
{% macro lineage_columns() -%}
    _delivery_id,
    _source,
    _file_name,
    _file_sha256,
    _extract_at,
    _row_number,
    _loaded_at
{%- endmacro %}

{#- Rows of the snapshot in force: each source's latest loaded delivery. -#}
{% macro current_snapshot(relation) -%}
    select staged.*
    from {{ relation }} as staged
    inner join (
        select _source as latest_source, max(_extract_at) as latest_extract_at
        from {{ relation }}
        group by _source
    ) as latest
        on staged._source = latest.latest_source
        and staged._extract_at = latest.latest_extract_at
{%- endmacro %}

{#- The latest version of each business key: by the version column, then delivery
    order, then row order (a later row of one file wins). -#}
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
    ) as ranked
    where _version_rank = 1
{%- endmacro %}
