{#
    On ClickHouse a dbt schema is a database, and revops has exactly three: raw (loader), staging and
    marts. dbt's default would prefix custom schemas with the target schema (`staging_marts`), so a
    model's custom schema is used verbatim; models without one land in the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
