{#- dbt tests on the large incremental models check the rows of the newest build only,
    not all history: a test configured with `where: __newest_build__` reads the rows whose
    `_built_at` is the model's newest (the rows this `dbt build` wrote, or the previous
    build's when this one changed nothing). Every other `where` works as dbt's own. -#}
{% macro get_where_subquery(relation) -%}
    {%- if config.get('where') == '__newest_build__' -%}
        {%- do return('(select * from ' ~ relation ~ ' where _built_at = (select max(_built_at) from ' ~ relation ~ ')) as dbt_subquery') -%}
    {%- endif -%}
    {%- do return(dbt.default__get_where_subquery(relation)) -%}
{%- endmacro %}
