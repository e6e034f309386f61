-- Each topic on each day: its support and whether the digest featured it (and at which rank).
select
    t.partition_date,
    t.topic_id,
    t.label,
    t.podcasts,
    t.episodes,
    t.claims,
    d.rank as digest_rank,
    d.rank is not null as featured
from {{ source('warehouse', 'topics') }} as t
left join {{ ref('stg_digest_insights') }} as d
    on d.partition_date = t.partition_date and d.topic_id = t.topic_id
