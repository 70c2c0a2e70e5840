{#- Each code the shared dictionary cannot place yet, with how many rows it holds back
    and when it was first and last delivered: the governance forum's work list
    (docs/governance.md). -#}
with held as (
    select * from {{ ref('quarantined_rows') }}
    where stage = 'conform'
        and (rule like 'unmapped_%' or rule like 'unknown_%')
),

ranked as (
    select
        held.*,
        row_number() over (
            partition by source, feed, rule, offending_value order by extract_at, file_name
        ) as first_rank,
        row_number() over (
            partition by source, feed, rule, offending_value order by extract_at desc, file_name desc
        ) as last_rank
    from held
),

final as (
    select
        source,
        feed,
        rule as code_kind,
        offending_value as code_value,
        count(*) as rows_held,
        max(case when first_rank = 1 then file_name end) as first_delivery,
        max(case when last_rank = 1 then file_name end) as last_delivery,
        min(extract_at) as first_seen_at,
        max(extract_at) as last_seen_at
    from ranked
    group by source, feed, rule, offending_value
)

select * from final
