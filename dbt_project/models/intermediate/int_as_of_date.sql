{#- The as-of date every KPI is judged at: CG_AS_OF if set, else the extract date of the
    latest delivery loaded. A view, so it moves the moment a delivery is ledgered. -#}
{{ config(materialized='view') }}

with latest_delivery as (
    select max(cast(extract_at as date)) as latest_delivery_date
    from {{ source('audit', 'delivery_ledger') }}
    where status = 'loaded'
),

final as (
    select
        {% if var('as_of') -%}
        cast('{{ var("as_of") }}' as date) as as_of_date,
        {%- else -%}
        latest_delivery_date as as_of_date,
        {%- endif %}
        latest_delivery_date
    from latest_delivery
)

select * from final
