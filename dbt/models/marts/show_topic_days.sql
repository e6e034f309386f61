-- Which themes each show discussed each day, one row per day, show and theme: "which topics
-- did show X discuss this week" is a filter on feed and week_start.
with claims as (
    select
        c.partition_date,
        c.feed,
        c.episode_guid,
        c.text,
        c.score,
        ct.topic_id,
        ct.centrality
    from {{ ref('stg_claim_topics') }} as ct
    inner join {{ ref('stg_claims') }} as c
        on ct.partition_date = c.partition_date and ct.claim_id = c.claim_id
    where {{ partition_window('ct.partition_date') }}
),

ranked as (
    select
        partition_date,
        feed,
        topic_id,
        text,
        row_number() over (
            partition by partition_date, feed, topic_id
            order by centrality desc, score desc, text asc
        ) as centrality_rank
    from claims
),

grouped as (
    select
        partition_date,
        feed,
        topic_id,
        count(*) as claims,
        count(distinct episode_guid) as episodes,
        avg(centrality) as mean_centrality
    from claims
    group by partition_date, feed, topic_id
)

select
    g.partition_date,
    g.feed,
    s.show_title,
    g.topic_id,
    d.topic_label,
    g.claims,
    g.episodes,
    g.mean_centrality,
    r.text as central_claim,
    t.digest_rank,
    cast(date_trunc('week', g.partition_date) as date) as week_start,
    coalesce(t.featured, false) as featured
from grouped as g
inner join ranked as r
    on
        g.partition_date = r.partition_date
        and g.feed = r.feed
        and g.topic_id = r.topic_id
        and r.centrality_rank = 1
left join {{ ref('show_days') }} as s
    on g.partition_date = s.partition_date and g.feed = s.feed
left join {{ ref('dim_topics') }} as d on g.topic_id = d.topic_id
left join {{ ref('topic_days') }} as t
    on g.partition_date = t.partition_date and g.topic_id = t.topic_id
