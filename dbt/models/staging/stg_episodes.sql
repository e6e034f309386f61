-- One row per episode and day.
select
    partition_date,
    feed,
    guid as episode_guid,
    title as episode_title,
    feed_title as show_title,
    published_at,
    audio_url,
    duration_s
from {{ source('warehouse', 'episodes') }}
