{#- One audit trail of every change to what the shared view shows, none of which obscures
    what was recorded before (in the spirit of 21 CFR 11.10(e)): changes between snapshot
    deliveries (snapshot_changes), CRO event corrections and voids as delivered, the
    governed mappings with their change_ref and validity, releases of held deliveries, and
    rate-card exceptions with their rate against the standard rate and the accruals that
    used them. -#}
{{ config(materialized='table') }}

{#- The governed mapping seeds (seeds/mappings/); tests/test_evidence.py checks this names every one. -#}
{%- set mapping_seeds = [
    'map_country_names', 'map_cro_event_types', 'map_cro_finance_states', 'map_cro_rate_codes',
    'map_cro_visit_codes', 'map_site_overrides', 'map_sponsor_cost_buckets', 'map_sponsor_milestones',
    'map_study_overrides',
] %}
{%- set governance_columns = ['valid_from', 'valid_to', 'change_ref', 'reason'] %}

with ledger as (
    select * from {{ source('audit', 'delivery_ledger') }}
),

snapshot_changes as (
    select
        'snapshot_change' as change_kind,
        source,
        feed,
        record_key,
        coalesce(change_type || ': ' || column_name, change_type) as change,
        old_value,
        new_value,
        cast(null as {{ dbt.type_string() }}) as change_ref,
        cast(null as {{ dbt.type_string() }}) as changed_by,
        previous_delivery_id,
        delivery_id,
        file_name,
        extract_at as effective_at,
        seen_at
    from {{ ref('snapshot_changes') }}
),

events as (
    select
        events.*,
        ledger.ingested_at
    from {{ ref('stg_cro__events') }} as events
    inner join ledger
        on events._delivery_id = ledger.delivery_id
),

event_corrections as (
    select
        case when corrections.cro_event_type = 'VOID' then 'event_void' else 'event_correction' end as change_kind,
        corrections._source as source,
        'events' as feed,
        'event_id=' || corrections.supersedes_event_id as record_key,
        case when corrections.cro_event_type = 'VOID' then 'voided by ' else 'corrected by ' end
            || corrections.event_id as change,
        {{ event_values('corrected') }} as old_value,
        {{ event_values('corrections') }} as new_value,
        cast(null as {{ dbt.type_string() }}) as change_ref,
        cast(null as {{ dbt.type_string() }}) as changed_by,
        corrected._delivery_id as previous_delivery_id,
        corrections._delivery_id as delivery_id,
        corrections._file_name as file_name,
        corrections.recorded_at as effective_at,
        corrections.ingested_at as seen_at
    from events as corrections
    left join events as corrected
        on corrections.cro_id = corrected.cro_id
        and corrections.supersedes_event_id = corrected.event_id
    where corrections.supersedes_event_id is not null
),

{%- for seed in mapping_seeds %}
{%- set key_columns = [] %}
{%- if execute %}
{%- for column in adapter.get_columns_in_relation(ref(seed)) if column.name not in governance_columns %}
    {%- do key_columns.append(column.name) %}
{%- endfor %}
{%- endif %}
mapping_{{ seed }} as (
    select
        'mapping_change' as change_kind,
        cast(null as {{ dbt.type_string() }}) as source,
        '{{ seed }}' as feed,
        {{ labelled_values(key_columns) }} as record_key,
        case when valid_to is null then 'in force' else 'retired' end as change,
        cast(null as {{ dbt.type_string() }}) as old_value,
        'valid_from=' || cast(valid_from as {{ dbt.type_string() }}) || '; valid_to=' || coalesce(cast(valid_to as {{ dbt.type_string() }}), '') as new_value,
        change_ref,
        cast(null as {{ dbt.type_string() }}) as changed_by,
        cast(null as {{ dbt.type_string() }}) as previous_delivery_id,
        cast(null as {{ dbt.type_string() }}) as delivery_id,
        cast(null as {{ dbt.type_string() }}) as file_name,
        cast(valid_from as timestamp) as effective_at,
        cast(null as timestamp) as seen_at
    from {{ ref(seed) }}
),
{%- endfor %}

releases as (
    select
        'held_delivery_' || releases.action as change_kind,
        ledger.source,
        ledger.feed,
        'delivery_id=' || releases.delivery_id as record_key,
        releases.action || ': ' || releases.reason as change,
        'held' as old_value,
        coalesce(releases.action || ' by ' || releases.superseded_by, releases.action) as new_value,
        cast(null as {{ dbt.type_string() }}) as change_ref,
        releases.released_by as changed_by,
        cast(null as {{ dbt.type_string() }}) as previous_delivery_id,
        releases.delivery_id,
        ledger.file_name,
        releases.released_at as effective_at,
        releases.released_at as seen_at
    from {{ source('audit', 'delivery_releases') }} as releases
    left join ledger
        on releases.delivery_id = ledger.delivery_id
),

rate_cards as (
    select
        rate_card.*,
        ledger.ingested_at,
        rate_codes.cost_bucket_code,
        rank() over (partition by rate_card._source order by rate_card._extract_at desc) as snapshot_rank
    from {{ ref('stg_cro__rate_card') }} as rate_card
    inner join ledger
        on rate_card._delivery_id = ledger.delivery_id
    left join {{ ref('int_mappings__cro_rate_codes') }} as rate_codes
        on rate_card.cro_id = rate_codes.cro_id
        and rate_card.rate_code = rate_codes.rate_code
),

accruals_by_rate as (
    select
        cro_id,
        rate_code,
        count(*) as accruals,
        sum(amount) as amount
    from {{ ref('fct_accruals') }}
    group by cro_id, rate_code
),

rate_card_exceptions as (
    select
        'rate_card_exception' as change_kind,
        exceptions._source as source,
        'rate_card' as feed,
        'RateCode=' || exceptions.rate_code as record_key,
        'exception ' || exceptions.exception_ref || ' to the standard rate of ' || coalesce(standard.rate_code, 'no standard rate code') as change,
        coalesce(standard.rate_code || '=' || cast(standard.unit_price as {{ dbt.type_string() }}) || ' ' || standard.currency, 'no standard rate') as old_value,
        exceptions.rate_code || '=' || cast(exceptions.unit_price as {{ dbt.type_string() }}) || ' ' || exceptions.currency
            || '; used by ' || cast(coalesce(accruals.accruals, 0) as {{ dbt.type_string() }}) || ' accruals, '
            || cast(coalesce(accruals.amount, 0) as {{ dbt.type_string() }}) || ' ' || exceptions.currency as new_value,
        exceptions.exception_ref as change_ref,
        cast(null as {{ dbt.type_string() }}) as changed_by,
        cast(null as {{ dbt.type_string() }}) as previous_delivery_id,
        exceptions._delivery_id as delivery_id,
        exceptions._file_name as file_name,
        cast(exceptions.valid_from as timestamp) as effective_at,
        exceptions.ingested_at as seen_at
    from rate_cards as exceptions
    left join rate_cards as standard
        on exceptions._delivery_id = standard._delivery_id
        and exceptions.cost_bucket_code = standard.cost_bucket_code
        and coalesce(exceptions.unit, '') = coalesce(standard.unit, '')
        and standard.exception_ref is null
    left join accruals_by_rate as accruals
        on exceptions.cro_id = accruals.cro_id
        and exceptions.rate_code = accruals.rate_code
    where exceptions.snapshot_rank = 1
        and exceptions.exception_ref is not null
),

final as (
    select * from snapshot_changes
    union all
    select * from event_corrections
    {%- for seed in mapping_seeds %}
    union all
    select * from mapping_{{ seed }}
    {%- endfor %}
    union all
    select * from releases
    union all
    select * from rate_card_exceptions
)

select * from final
