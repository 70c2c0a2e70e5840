{#- Every CRO event version delivered, in canonical codes, with the reason it cannot be
    conformed. -#}
with staged as (
    select * from {{ ref('stg_cro__events') }}
),

studies as (
    select cro_id, cro_study_ref, study_id from {{ ref('int_cro__studies') }}
),

sites as (
    select cro_id, cro_study_ref, site_code, site_number from {{ ref('int_cro__sites') }}
),

country_names as (
    select * from {{ ref('int_mappings__country_names') }}
),

event_types as (
    select * from {{ ref('int_mappings__cro_event_types') }}
),

checked as (
    select
        staged.*,
        studies.study_id,
        country_names.country_code,
        sites.site_number,
        event_types.event_type_code,
        event_types.milestone_code,
        {{ quarantine_columns([
            ('event_types.event_type_code is null', 'unmapped_event_type', 'staged.cro_event_type'),
            ("staged.cro_event_type <> 'VOID' and studies.study_id is null", 'unknown_cro_study', 'staged.cro_study_ref'),
            ("staged.cro_event_type <> 'VOID' and staged.country_name is not null and country_names.country_code is null", 'unmapped_country', 'staged.country_name'),
            ("staged.cro_event_type <> 'VOID' and staged.site_code is not null and sites.site_code is null", 'unknown_site', 'staged.site_code'),
        ]) }}
    from staged
    left join studies
        on staged.cro_id = studies.cro_id
        and staged.cro_study_ref = studies.cro_study_ref
    left join sites
        on staged.cro_id = sites.cro_id
        and staged.cro_study_ref = sites.cro_study_ref
        and staged.site_code = sites.site_code
    left join country_names
        on staged.cro_id = country_names.cro_id
        and {{ normalize_name('staged.country_name') }} = country_names.country_name_key
        and {{ in_force('country_names', 'staged._delivery_date') }}
    left join event_types
        on staged.cro_id = event_types.cro_id
        and staged.cro_event_type = event_types.cro_event_type
        and {{ in_force('event_types', 'staged._delivery_date') }}
)

{{ new_or_changed_rows('checked', [
    'study_id', 'country_code', 'site_number', 'event_type_code', 'milestone_code',
    '_quarantine_rule', '_quarantine_value', '_quarantine_reason',
]) }}
