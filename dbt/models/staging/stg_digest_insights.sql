-- The digests, one row per insight.
select
    partition_date,
    rank,
    topic_id,
    topic_label,
    headline,
    novelty,
    score
from {{ source('warehouse', 'digest_insights') }}
