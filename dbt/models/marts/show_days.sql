-- Each show on each day: episodes, audio minutes, claims and how many named a speaker.
with episodes as (
    select partition_date, feed, count(*) as episodes, sum(duration_s) / 60.0 as audio_minutes
    from {{ source('warehouse', 'episodes') }}
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
    group by partition_date, feed
)
select
    e.partition_date,
    e.feed,
    e.episodes,
    e.audio_minutes,
    coalesce(c.claims, 0) as claims,
    coalesce(c.attributed_claims, 0) as attributed_claims,
    c.mean_claim_score
from episodes as e
left join claims as c on c.partition_date = e.partition_date and c.feed = e.feed
