{#- Every CRO subject-visit version delivered, with the protocol's visit code (governed
    mapping, per CRO and study), the canonical finance state and the schedule's CTQ and
    payable flags. -#}
with staged as (
    select * from {{ ref('stg_cro__visits') }}
),

studies as (
    select cro_id, cro_study_ref, study_id from {{ ref('int_cro__studies') }}
),

sites as (
    select cro_id, cro_study_ref, site_code, site_number, country_code from {{ ref('int_cro__sites') }}
),

visit_codes as (
    select * from {{ ref('int_mappings__cro_visit_codes') }}
),

finance_states as (
    select * from {{ ref('int_mappings__cro_finance_states') }}
),

sponsor_studies as (
    select study_id, protocol_version from {{ ref('int_sponsor__studies') }}
),

schedule as (
    select study_id, protocol_version, visit_code, is_ctq, is_payable from {{ ref('int_sponsor__visit_schedule') }}
),

mapped as (
    select
        staged.*,
        studies.study_id,
        sites.site_number,
        sites.country_code,
        visit_codes.visit_code,
        finance_states.finance_state_code,
        sites.site_code as known_site_code
    from staged
    left join studies
        on staged.cro_id = studies.cro_id
        and staged.cro_study_ref = studies.cro_study_ref
    left join sites
        on staged.cro_id = sites.cro_id
        and staged.cro_study_ref = sites.cro_study_ref
        and staged.site_code = sites.site_code
    left join visit_codes
        on staged.cro_id = visit_codes.cro_id
        and staged.cro_study_ref = visit_codes.cro_study_ref
        and staged.cro_visit_code = visit_codes.cro_visit_code
        and {{ in_force('visit_codes', 'staged._delivery_date') }}
    left join finance_states
        on staged.cro_id = finance_states.cro_id
        and staged.cro_finance_state = finance_states.cro_finance_state
        and {{ in_force('finance_states', 'staged._delivery_date') }}
),

checked as (
    select
        mapped.*,
        schedule.is_ctq,
        schedule.is_payable,
        {{ quarantine_columns([
            ('mapped.study_id is null', 'unknown_cro_study', 'mapped.cro_study_ref'),
            ('mapped.known_site_code is null', 'unknown_site', 'mapped.site_code'),
            ('mapped.visit_code is null', 'unmapped_visit_code', 'mapped.cro_visit_code'),
            ('mapped.cro_finance_state is not null and mapped.finance_state_code is null', 'unmapped_finance_state', 'mapped.cro_finance_state'),
            ('schedule.visit_code is null', 'visit_not_in_schedule', 'mapped.visit_code'),
        ]) }}
    from mapped
    left join sponsor_studies
        on mapped.study_id = sponsor_studies.study_id
    left join schedule
        on mapped.study_id = schedule.study_id
        and sponsor_studies.protocol_version = schedule.protocol_version
        and mapped.visit_code = schedule.visit_code
)

{{ new_or_changed_rows('checked', [
    'study_id', 'site_number', 'country_code', 'visit_code', 'finance_state_code',
    'known_site_code', 'is_ctq', 'is_payable', '_quarantine_rule', '_quarantine_value',
    '_quarantine_reason',
]) }}
