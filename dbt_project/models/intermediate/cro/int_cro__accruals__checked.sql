{#- CRO accrual versions in canonical cost buckets and the reporting currency.
    `internal_cost` is CRO-internal: it never reaches a sponsor-facing output. -#}
with staged as (
    select * from {{ ref('stg_cro__accruals') }}
),

studies as (
    select cro_id, cro_study_ref, study_id from {{ ref('int_cro__studies') }}
),

rate_codes as (
    select * from {{ ref('int_mappings__cro_rate_codes') }}
),

fx as (
    select * from {{ ref('int_fx_rates') }}
),

checked as (
    select
        staged.*,
        studies.study_id,
        rate_codes.cost_bucket_code,
        {{ in_reporting_currency('staged.amount') }} as amount_reporting,
        {{ quarantine_columns([
            ('studies.study_id is null', 'unknown_cro_study', 'staged.cro_study_ref'),
            ('rate_codes.cost_bucket_code is null', 'unmapped_rate_code', 'staged.rate_code'),
            ('staged.amount is not null and fx.rate_to_reporting is null', 'no_fx_rate', "staged.currency || ' ' || staged.accrual_month"),
            (out_of_reporting_range('staged.amount'), 'amount_out_of_range', 'staged.amount'),
        ]) }}
    from staged
    left join studies
        on staged.cro_id = studies.cro_id
        and staged.cro_study_ref = studies.cro_study_ref
    left join rate_codes
        on staged.cro_id = rate_codes.cro_id
        and staged.rate_code = rate_codes.rate_code
        and {{ in_force('rate_codes', 'staged._delivery_date') }}
    left join fx
        on staged.currency = fx.currency_code
        and staged.accrual_month_start = fx.month_start
)

{{ new_or_changed_rows('checked', [
    'study_id', 'cost_bucket_code', 'amount_reporting', '_quarantine_rule', '_quarantine_value',
    '_quarantine_reason',
]) }}
