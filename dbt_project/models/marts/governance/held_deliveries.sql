{#- Every delivery that was ever held as a whole (its contract gate blocked), with how it
    left: still `held`, `released` by a data steward, or `superseded` by the sender's
    corrected file. Who, when and why come from audit.delivery_releases. -#}
{{ config(materialized='table') }}

with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

releases as (
    select * from {{ source('audit', 'delivery_releases') }}
),

ever_held as (
    select ledger.*
    from ledger
    where ledger.status in ('held', 'superseded')
        or ledger.delivery_id in (select delivery_id from releases where action = 'released')
),

final as (
    select
        ever_held.delivery_id,
        ever_held.source,
        ever_held.side,
        ever_held.cro_id,
        ever_held.feed,
        ever_held.file_name,
        ever_held.extract_at,
        ever_held.ingested_at as held_at,
        case when ever_held.status = 'loaded' then 'released' else ever_held.status end as status,
        ever_held.rows_loaded as rows_kept,
        ever_held.rows_quarantined,
        ever_held.reason as held_reason,
        releases.released_at as left_at,
        releases.released_by as left_by,
        releases.reason as left_reason,
        releases.superseded_by,
        {{ days_between('ever_held.ingested_at', 'coalesce(releases.released_at, ' ~ build_time() ~ ')') }}
            as days_held
    from ever_held
    left join releases on releases.delivery_id = ever_held.delivery_id
)

select * from final
