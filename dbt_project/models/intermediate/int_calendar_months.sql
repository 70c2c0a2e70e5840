{#- Calendar months 2015-01 .. 2044-12, for month spines (portable: no date functions
    beyond dbt's cross-database macros). -#}
with numbers as (
    {{ dbt.generate_series(360) }}
),

final as (
    select cast({{ dbt.dateadd('month', 'generated_number - 1', "cast('2015-01-01' as date)") }} as date) as month_start
    from numbers
)

select * from final
