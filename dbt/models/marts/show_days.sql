-- Each show on each day: episodes, audio minutes, claims, how many named a speaker, themes.
with episodes as (
    select
        partition_date,
        feed,
        max(show_title) as show_title,
        count(*) as episodes,
        sum(duration_s) / 60.0 as audio_minutes
    from {{ ref('stg_episodes') }}
    where {{ partition_window() }}
    group by partition_date, feed
),

claims as (
    select
        partition_date,
        feed,
        count(*) as claims,
        count(speaker) as attributed_claims,
        avg(score) as mean_claim_score
    from {{ ref('stg_claims') }}
    where {{ partition_window() }}
    group by partition_date, feed
),

themes as (
    select
        c.partition_date,
        c.feed,
        count(distinct ct.topic_id) as topics
    from {{ ref('stg_claim_topics') }} as ct
    inner join {{ ref('stg_claims') }} as c
        on ct.partition_date = c.partition_date and ct.claim_id = c.claim_id
    where {{ partition_window('ct.partition_date') }}
    group by c.partition_date, c.feed
)

select
    e.partition_date,
    e.feed,
    e.show_title,
    e.episodes,
    e.audio_minutes,
    c.mean_claim_score,
    coalesce(c.claims, 0) as claims,
    coalesce(c.attributed_claims, 0) as attributed_claims,
    coalesce(t.topics, 0) as topics
from episodes as e
left join claims as c on e.partition_date = c.partition_date and e.feed = c.feed
left join themes as t on e.partition_date = t.partition_date and e.feed = t.feed
