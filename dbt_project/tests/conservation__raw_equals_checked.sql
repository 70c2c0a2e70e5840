{#- Nothing is lost on the way: every raw row appears exactly once in its feed's
    `__checked` model, where it either conforms or is held with a reason. Returns the
    feeds where the counts differ. -#}
{%- set feeds = contract_feeds() %}
{%- for side, feed in feeds %}
select
    '{{ side }}__{{ feed }}' as feed,
    (select count(*) from {{ source('raw', side ~ '__' ~ feed) }}) as raw_rows,
    (select count(*) from {{ ref('int_' ~ side ~ '__' ~ feed ~ '__checked') }}) as checked_rows
where (select count(*) from {{ source('raw', side ~ '__' ~ feed) }})
    <> (select count(*) from {{ ref('int_' ~ side ~ '__' ~ feed ~ '__checked') }})
{% if not loop.last %}union all{% endif %}
{%- endfor %}
