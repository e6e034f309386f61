-- Each theme on each day: its support and whether the digest featured it (and at which rank).
with topics as (
    select
        partition_date,
        topic_id,
        day_label,
        podcasts,
        episodes,
        claims
    from {{ ref('stg_topics') }}
    where {{ partition_window() }}
),

insights as (
    select
        partition_date,
        topic_id,
        rank,
        novelty
    from {{ ref('stg_digest_insights') }}
    where {{ partition_window() }}
)

select
    t.partition_date,
    t.topic_id,
    d.topic_label,
    t.day_label,
    t.podcasts,
    t.episodes,
    t.claims,
    i.rank as digest_rank,
    i.novelty,
    i.rank is not null as featured
from topics as t
left join {{ ref('dim_topics') }} as d on t.topic_id = d.topic_id
left join insights as i
    on t.partition_date = i.partition_date and t.topic_id = i.topic_id
