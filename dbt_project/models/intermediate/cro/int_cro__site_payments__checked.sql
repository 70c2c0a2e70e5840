{#- Site payment versions in canonical codes and the reporting currency (FX of the
    payable month, else of the month the payment was last updated). -#}
with staged as (
    select * from {{ ref('stg_cro__site_payments') }}
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

fx as (
    select * from {{ ref('int_fx_rates') }}
),

mapped as (
    select
        staged.*,
        studies.study_id,
        sites.site_number,
        sites.country_code,
        sites.site_code as known_site_code,
        visit_codes.visit_code,
        {{ dbt.date_trunc('month', 'coalesce(staged.payable_date, cast(staged.updated_at as date))') }} as fx_month_start
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
),

checked as (
    select
        mapped.*,
        {{ in_reporting_currency('mapped.amount') }} as amount_reporting,
        {{ quarantine_columns([
            ('mapped.study_id is null', 'unknown_cro_study', 'mapped.cro_study_ref'),
            ('mapped.known_site_code is null', 'unknown_site', 'mapped.site_code'),
            ('mapped.cro_visit_code is not null and mapped.visit_code is null', 'unmapped_visit_code', 'mapped.cro_visit_code'),
            ('mapped.amount is not null and fx.rate_to_reporting is null', 'no_fx_rate', "mapped.currency || ' ' || cast(mapped.fx_month_start as " ~ dbt.type_string() ~ ")"),
            (out_of_reporting_range('mapped.amount'), 'amount_out_of_range', 'mapped.amount'),
        ]) }}
    from mapped
    left join fx
        on mapped.currency = fx.currency_code
        and cast(mapped.fx_month_start as date) = fx.month_start
)

{{ new_or_changed_rows('checked', [
    'study_id', 'site_number', 'country_code', 'known_site_code', 'visit_code', 'fx_month_start',
    'amount_reporting', '_quarantine_rule', '_quarantine_value', '_quarantine_reason',
]) }}
