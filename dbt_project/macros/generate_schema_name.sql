{#- Layers land in schemas named for the layer (staging, intermediate, marts, dictionary),
    not `<target schema>_<layer>`: BI tools and tests rely on `marts.<table>`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
