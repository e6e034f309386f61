-- One row per theme and day.
select
    partition_date,
    topic_id,
    label as day_label,
    keywords,
    claims,
    episodes,
    podcasts
from {{ source('warehouse', 'topics') }}
