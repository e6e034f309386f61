{#- Every row's key (several columns) is found in `to`: a composite foreign key.
    `to_columns` names the parent's columns when they differ. -#}
{% test relationships_on(model, to, columns, to_columns=none) %}
{%- set parent_columns = to_columns or columns %}

with child as (
    select * from {{ model }}
),

parent as (
    select * from {{ to }}
)

select child.*
from child
where
    {% for c in columns -%}
        child.{{ c }} is not null and
    {% endfor -%}
    not exists (
        select 1
        from parent
        where
            {% for c in columns -%}
                parent.{{ parent_columns[loop.index0] }} = child.{{ c }}
                {%- if not loop.last %} and{% endif %}
            {% endfor %}
    )
{% endtest %}
