{#- Seeds on Spark: dbt-spark's session connection pastes each value into the insert
    between quotes without escaping them (`Côte d'Ivoire` breaks the statement) and writes
    an empty cell as 'None' (a failed cast under ANSI mode). This loads the same rows with
    every value written as an escaped literal, and null as null. dbt_project.yml puts this
    project first in the search order of dbt's macros. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- if row[loop.index0] is none -%} cast(null as {{ type }})
                    {%- else -%} cast({{ text_literal(row[loop.index0] | string) }} as {{ type }})
                    {%- endif -%}
                    {{- ', ' if not loop.last -}}
                {%- endfor -%}){{ ',' if not loop.last }}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- do statements.append(sql) if loop.first -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}
