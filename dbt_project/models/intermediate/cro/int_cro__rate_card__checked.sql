with staged as (
    select * from {{ ref('stg_cro__rate_card') }}
),

rate_codes as (
    select * from {{ ref('int_mappings__cro_rate_codes') }}
),

currencies as (
    select currency_code from {{ ref('dict_currencies') }}
),

checked as (
    select
        staged.*,
        rate_codes.cost_bucket_code,
        {{ quarantine_columns([
            ('rate_codes.cost_bucket_code is null', 'unmapped_rate_code', 'staged.rate_code'),
            ('currencies.currency_code is null', 'unknown_currency', 'staged.currency'),
        ]) }}
    from staged
    left join rate_codes
        on staged.cro_id = rate_codes.cro_id
        and staged.rate_code = rate_codes.rate_code
        and {{ in_force('rate_codes', 'staged._delivery_date') }}
    left join currencies
        on staged.currency = currencies.currency_code
)

select * from checked
