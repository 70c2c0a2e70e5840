-- depends_on: {{ ref('int_as_of_date') }}
{#- CRO events as they stand at the as-of date: only versions recorded by then, the
    latest version of each event id, corrections applied (`with_correction_state` in
    macros/corrections.sql: a correction replaces the event it supersedes, a VOID cancels
    it, a VOID of a VOID restores it; events in a loop of corrections are held in
    int_cro__events__unresolved), VOIDs removed. Incremental by study, the unit a
    correction stays within: a build computes again only the studies with an event
    conformed since the last. -#}
{%- set study = ['cro_id', 'cro_study_ref'] %}
{{ config(
    materialized=incremental_materialization(),
    unique_key=['cro_id', 'event_id'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ forget_changed_keys(ref('int_cro__events__checked'), " ~ study ~ ") }}",
) }}

with known as (
    select events.*
    from {{ ref('int_cro__events__checked') }} as events
    where events._quarantine_rule is null
        {%- if var('as_of') %}
        and events.recorded_local_date <= (select as_of_date from {{ ref('int_as_of_date') }})
        {%- endif %}
        {%- if is_incremental() %}
        and {{ key_changed_upstream('events', ref('int_cro__events__checked'), study) }}
        {%- endif %}
),

latest as (
    {{ latest_version('known', ['cro_id', 'event_id'], 'recorded_at') }}
),

resolved as (
    {{ with_correction_state('latest') }}
),

final as (
    select
        -- ids
        latest.cro_id,
        latest.event_id,
        latest.study_id,
        latest.cro_study_ref,
        latest.country_code,
        latest.site_number,
        latest.site_code,
        latest.subject_id,
        latest.deviation_id,
        latest.risk_id,
        latest.severity,
        latest.category,
        latest.supersedes_event_id,
        -- codes
        latest.cro_event_type,
        latest.event_type_code,
        latest.milestone_code,
        -- dates (local calendar dates where the event happened)
        latest.occurred_at,
        latest.occurred_local_date as occurred_date,
        latest.recorded_at,
        -- lineage
        latest._delivery_id,
        latest._file_name,
        latest._row_number,
        latest._built_at,
        {{ as_of_basis() }} as _as_of_basis
    from resolved as latest
    where latest._correction_state = 'in_force'
        and latest.cro_event_type <> 'VOID'
)

select * from final
