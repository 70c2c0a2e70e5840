{#- CRO events as they stand at the as-of date: only versions recorded by then, the
    latest version of each event id, corrections applied (an event naming another in
    `supersedes` replaces it; among several corrections of one event the latest recorded
    wins), VOIDs removed with the event they cancel. Codes in the shared dictionary. -#}
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

known as (
    select events.*
    from {{ ref('stg_cro__events') }} as events
    cross join as_of
    where cast(events.recorded_at as date) <= as_of.as_of_date
),

latest as (
    {{ latest_version('known', ['cro_id', 'event_id'], 'recorded_at') }}
),

corrections as (
    select
        cro_id,
        event_id,
        supersedes_event_id,
        row_number() over (
            partition by cro_id, supersedes_event_id
            order by recorded_at desc, _extract_at desc, _row_number desc
        ) as correction_rank
    from latest
    where supersedes_event_id is not null
),

superseded as (
    select cro_id, supersedes_event_id as event_id from corrections
    union
    select cro_id, event_id from corrections where correction_rank > 1
),

effective as (
    select latest.*
    from latest
    left join superseded
        on latest.cro_id = superseded.cro_id
        and latest.event_id = superseded.event_id
    where superseded.event_id is null
        and latest.cro_event_type <> 'VOID'
),

studies as (
    select cro_id, cro_study_ref, sponsor_study_id from {{ ref('int_cro__studies_current') }}
),

sites as (
    select cro_id, cro_study_ref, site_code, site_number from {{ ref('int_cro__sites_current') }}
),

country_names as (
    select cro_id, {{ normalize_name('country_name_variant') }} as country_name_key, country_code
    from {{ ref('map_country_names') }}
    where valid_to is null
),

event_types as (
    select cro_id, cro_event_type, event_type_code, milestone_code
    from {{ ref('map_cro_event_types') }}
    where valid_to is null
),

final as (
    select
        -- ids
        effective.cro_id,
        effective.event_id,
        studies.sponsor_study_id as study_id,
        country_names.country_code,
        sites.site_number,
        effective.site_code,
        effective.subject_id,
        effective.deviation_id,
        -- codes
        effective.cro_event_type,
        event_types.event_type_code,
        event_types.milestone_code,
        -- dates
        effective.occurred_at,
        cast(effective.occurred_at as date) as occurred_date,
        effective.recorded_at,
        -- lineage
        effective._delivery_id,
        effective._file_name,
        effective._row_number
    from effective
    left join studies
        on effective.cro_id = studies.cro_id
        and effective.cro_study_ref = studies.cro_study_ref
    left join sites
        on effective.cro_id = sites.cro_id
        and effective.cro_study_ref = sites.cro_study_ref
        and effective.site_code = sites.site_code
    left join country_names
        on {{ normalize_name('effective.country_name') }} = country_names.country_name_key
        and country_names.cro_id in (effective.cro_id, '*')
    left join event_types
        on effective.cro_event_type = event_types.cro_event_type
        and event_types.cro_id in (effective.cro_id, '*')
)

select * from final
