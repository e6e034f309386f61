{#- The days a run rebuilds: vars min_date and max_date (YYYY-MM-DD, inclusive; one given alone
    means that day). Neither given: every day, the whole table is rebuilt. -#}

{% macro window_bounds() -%}
    {%- set low = var('min_date', none) or var('max_date', none) -%}
    {%- set high = var('max_date', none) or var('min_date', none) -%}
    {%- if low is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- Parsed as dates, so a malformed var fails here instead of reaching SQL. -#}
    {%- set low = modules.datetime.date.fromisoformat(low | string) -%}
    {%- set high = modules.datetime.date.fromisoformat(high | string) -%}
    {%- if low > high -%}
        {{ exceptions.raise_compiler_error("min_date " ~ low ~ " is after max_date " ~ high) }}
    {%- endif -%}
    {{ return([low.isoformat(), high.isoformat()]) }}
{%- endmacro %}


{% macro partition_window(column='partition_date') -%}
    {%- set bounds = window_bounds() -%}
    {%- if bounds is none -%}
        1 = 1
    {%- else -%}
        {{ column }} between cast('{{ bounds[0] }}' as date) and cast('{{ bounds[1] }}' as date)
    {%- endif -%}
{%- endmacro %}


{#- A span of days (two date columns) that meets the run's days; every span without a window. -#}
{% macro overlaps_window(first_column, last_column) -%}
    {%- set bounds = window_bounds() -%}
    {%- if bounds is none -%}
        1 = 1
    {%- else -%}
        {{ first_column }} <= cast('{{ bounds[1] }}' as date)
        and {{ last_column }} >= cast('{{ bounds[0] }}' as date)
    {%- endif -%}
{%- endmacro %}


{#- Incremental strategy `partition_window`: delete the run's days, insert what the model
    selected for them, in the run's one transaction. Unlike delete+insert on a unique key, a day
    that now has no rows is emptied too. -#}
{% macro get_incremental_partition_window_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }} where {{ partition_window() }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
