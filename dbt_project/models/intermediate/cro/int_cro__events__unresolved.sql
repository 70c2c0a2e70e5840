-- depends_on: {{ ref('int_as_of_date') }}
{#- CRO events held because their corrections cannot be applied: an event superseding
    itself, or a loop of events superseding one another (and events correcting one in such
    a loop). Nothing of the loop is in force until the CRO corrects the `supersedes` of one
    of its events; meanwhile each is listed in marts.quarantined_rows. -#}
{{ config(materialized='table') }}

with known as (
    select events.*
    from {{ ref('int_cro__events__checked') }} as events
    where events._quarantine_rule is null
        {%- if var('as_of') %}
        and events.recorded_local_date <= (select as_of_date from {{ ref('int_as_of_date') }})
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
        _source,
        _delivery_id,
        _file_name,
        _extract_at,
        _row_number,
        cro_id,
        event_id,
        supersedes_event_id,
        case when supersedes_event_id = event_id then 'supersedes_itself' else 'supersede_cycle' end as _quarantine_rule,
        event_id as _quarantine_value,
        case
            when supersedes_event_id = event_id
                then 'supersedes_itself: event ' || {{ in_quotes('event_id') }} || ' names itself in supersedes; '
                    || 'send it again with the event it corrects'
            else 'supersede_cycle: event ' || {{ in_quotes('event_id') }} || ' is in, or corrects an event in, a loop of '
                || 'events superseding one another; send a correction of one event of the loop naming the event it really corrects'
        end as _quarantine_reason
    from resolved
    where _correction_state = 'unresolved'
)

select * from final
