{#- CRO event corrections: an event naming another in `supersedes` corrects it (among
    several corrections of one event the latest recorded is the one in force; the others
    are replaced by it). A correction replaces its target; a VOID cancels it. A cancelled
    event has no effect of its own any more, so a VOID of a VOID restores what the first
    cancelled, and a VOID of a correction restores the corrected event; a replaced event
    keeps its effect through the event replacing it (a correction of a correction leaves
    the original replaced).

    `latest` is a relation of the latest version of each event. Yields its rows with
    `_correction_state`: `in_force`, `replaced`, `voided` or `unresolved` (its chain of
    corrections loops back on itself: an event superseding itself, or a cycle; nothing in
    the loop can be applied, so those events are held, in `int_cro__events__unresolved`).
    The state is resolved from the end of each chain back, so a loop is never entered. -#}
{% macro with_correction_state(latest) -%}
    with recursive corrections as (
        select
            cro_id,
            event_id,
            supersedes_event_id,
            cro_event_type,
            row_number() over (
                partition by cro_id, supersedes_event_id
                order by recorded_at desc, _extract_at desc, _row_number desc
            ) as correction_rank
        from {{ latest }}
        where supersedes_event_id is not null
    ),

    corrected_by as (
        select
            cro_id,
            supersedes_event_id as event_id,
            event_id as corrector_id,
            cro_event_type = 'VOID' as corrector_is_void
        from corrections
        where correction_rank = 1
    ),

    states as (
        select uncorrected.cro_id, uncorrected.event_id, 'in_force' as state
        from {{ latest }} as uncorrected
        where not exists (
            select 1 from corrected_by
            where corrected_by.cro_id = uncorrected.cro_id and corrected_by.event_id = uncorrected.event_id
        )
        union all
        select
            corrected_by.cro_id,
            corrected_by.event_id,
            case
                when states.state = 'voided' then 'in_force'
                when corrected_by.corrector_is_void then 'voided'
                else 'replaced'
            end as state
        from corrected_by
        inner join states
            on corrected_by.cro_id = states.cro_id
            and corrected_by.corrector_id = states.event_id
    )

    select
        events.*,
        case
            when states.state is null then 'unresolved'
            when corrections.correction_rank > 1 then 'replaced'
            else states.state
        end as _correction_state
    from {{ latest }} as events
    left join states
        on events.cro_id = states.cro_id
        and events.event_id = states.event_id
    left join corrections
        on events.cro_id = corrections.cro_id
        and events.event_id = corrections.event_id
{%- endmacro %}
