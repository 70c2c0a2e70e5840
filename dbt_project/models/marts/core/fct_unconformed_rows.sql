{#- Every delivered row the conformed layer holds back, with the specific reason (e.g.
    `unmapped_country: 'Untied States'`), and CRO events whose corrections loop: the
    conform half of marts.quarantined_rows. A row held here flows on by itself once its
    cause is fixed (a mapping added, say). -#}
{%- set checked = [] %}
{%- for side, feed in contract_feeds() %}
    {%- do checked.append(('int_' ~ side ~ '__' ~ feed ~ '__checked', side, feed)) %}
{%- endfor %}
{%- do checked.append(('int_cro__events__unresolved', 'cro', 'events')) %}

with held as (
    {%- for model, side, feed in checked %}
    select
        _source as source,
        '{{ side }}' as side,
        '{{ feed }}' as feed,
        _delivery_id as delivery_id,
        _file_name as file_name,
        _extract_at as extract_at,
        _row_number as row_number,
        _quarantine_rule as rule,
        _quarantine_value as offending_value,
        _quarantine_reason as reason
    from {{ ref(model) }}
    where _quarantine_rule is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from held
