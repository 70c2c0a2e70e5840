{#- Monthly FX rates from the dictionary, as the factor that turns an amount in
    `currency_code` into the reporting currency (var reporting_currency). -#}
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
        rates.rate_to_usd / reporting.reporting_rate_to_usd as rate_to_reporting
    from rates
    inner join reporting
        on rates.month_start = reporting.month_start
)

select * from final
