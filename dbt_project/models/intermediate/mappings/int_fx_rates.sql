{#- Monthly FX rates from the dictionary, as the factor that turns an amount in
    `currency_code` into the reporting currency (var reporting_currency). A decimal of
    fixed scale on every engine: DuckDB divides decimals as doubles, and a rate of
    1.12999999... rounds 1237.50 EUR to 1398.37 where every other engine gives 1398.38. -#}
with rates as (
    select
        currency_code,
        {{ parse_month('month') }} as month_start,
        rate_to_usd
    from {{ ref('dict_fx_rates_monthly') }}
),

reporting as (
    select month_start, rate_to_usd as reporting_rate_to_usd
    from rates
    where currency_code = '{{ var("reporting_currency") }}'
),

final as (
    select
        rates.currency_code,
        rates.month_start,
        rates.rate_to_usd,
        '{{ var("reporting_currency") }}' as reporting_currency,
        cast(rates.rate_to_usd / reporting.reporting_rate_to_usd as decimal(18, 10)) as rate_to_reporting
    from rates
    inner join reporting
        on rates.month_start = reporting.month_start
)

select * from final
