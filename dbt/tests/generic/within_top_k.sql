{#- A digest rank is 1..top_k (var, from lib/tuning.py). -#}
{% test within_top_k(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < 1 or {{ column_name }} > {{ top_k() }}
{% endtest %}
