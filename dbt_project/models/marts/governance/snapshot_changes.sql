{#- The change log of the snapshot feeds: every change between two consecutive deliveries
    of a snapshot feed from one source, so a new snapshot never replaces what was recorded
    before without a trace. The snapshot feeds are the raw sources whose meta names their
    `snapshot_key` (models/staging/_raw__sources.yml, written from the feed contract). -#}
{%- set snapshot_sources = [] %}
{%- if execute %}
    {%- for node in graph.sources.values() | sort(attribute='name') %}
        {%- if node.source_name == 'raw' and node.config.meta.snapshot_key %}
            {%- do snapshot_sources.append(node) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}
with
{%- for source_table in snapshot_sources %}
{{ snapshot_changes(source_table) }},
{%- endfor %}

final as (
    {%- for source_table in snapshot_sources %}
    select
        source,
        '{{ source_table.name.split('__')[1] }}' as feed,
        record_key,
        change_type,
        column_name,
        old_value,
        new_value,
        previous_delivery_id,
        previous_file_name,
        previous_extract_at,
        delivery_id,
        file_name,
        extract_at,
        ingested_at as seen_at
    from rows_{{ source_table.name }}_changes
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from final
