{#- dbt's own test filter, plus one placeholder: `where: __partition_window__` limits a test to
    the run's days (macros/partition_window.sql), decided when the test runs, not when parsed. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = where | replace('__partition_window__', partition_window()) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) as dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
