with staged as (
    select * from {{ ref('stg_sponsor__forecast') }}
),

known_studies as (
    select distinct study_id from {{ ref('int_sponsor__studies__checked') }} where _quarantine_rule is null
),

cost_buckets as (
    select * from {{ ref('map_sponsor_cost_buckets') }}
),

fx as (
    select * from {{ ref('int_fx_rates') }}
),

checked as (
    select
        staged.*,
        cost_buckets.cost_bucket_code,
        {{ in_reporting_currency('staged.amount') }} as amount_reporting,
        {{ quarantine_columns([
            ('cost_buckets.cost_bucket_code is null', 'unmapped_cost_bucket', 'staged.sponsor_cost_bucket'),
            ('staged.amount is not null and fx.rate_to_reporting is null', 'no_fx_rate', "staged.currency || ' ' || staged.forecast_month"),
            (out_of_reporting_range('staged.amount'), 'amount_out_of_range', 'staged.amount'),
            ('known_studies.study_id is null', 'unknown_study', 'staged.study_id'),
        ]) }}
    from staged
    left join cost_buckets
        on staged.sponsor_cost_bucket = cost_buckets.sponsor_cost_bucket
        and {{ in_force('cost_buckets', 'staged._delivery_date') }}
    left join fx
        on staged.currency = fx.currency_code
        and staged.forecast_month_start = fx.month_start
    left join known_studies
        on staged.study_id = known_studies.study_id
)

select * from checked
