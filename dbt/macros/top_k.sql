{#- Insights a day: dagster_project/lib/tuning.py TOP_K, passed by Dagster as the var top_k so
    the number lives in one place. -#}
{% macro top_k() -%}
    {%- set k = var('top_k', none) -%}
    {%- if k is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "var top_k is not set: Dagster passes dagster_project/lib/tuning.py TOP_K; "
                ~ "by hand, add --vars '{top_k: 5}' (or the value in tuning.py)") }}
        {%- endif -%}
        {{ return(0) }}
    {%- endif -%}
    {{ return(k | int) }}
{%- endmacro %}
