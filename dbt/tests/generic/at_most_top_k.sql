{#- At most top_k rows (var, from lib/tuning.py) per value of the column: a day's insights. -#}
{% test at_most_top_k(model, column_name) %}
select
    {{ column_name }},
    count(*) as insights
from {{ model }}
group by {{ column_name }}
having count(*) > {{ top_k() }}
{% endtest %}
