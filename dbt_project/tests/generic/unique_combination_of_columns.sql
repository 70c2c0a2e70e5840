{#- Fails for each combination of `columns` that occurs more than once (the grain test).
    Written here because dbt packages cannot be fetched on our machines. -#}
{% test unique_combination_of_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
