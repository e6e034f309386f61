{{ config(post_hook=[
    "delete from {{ this }} as d where not exists "
    ~ "(select 1 from {{ ref('stg_topics') }} as t where t.topic_id = d.topic_id)"
]) }}
-- One row per theme: one canonical label (its first day's, so it never changes once given)
-- and how long and how widely the theme ran. A run rewrites only the themes its days touch;
-- the post-hook drops a theme that a rerun took off every day.

with touched as (
    select topic_id from {{ ref('stg_topics') }}
    where {{ partition_window() }}
    {%- if is_incremental() %}
        union
        -- a theme the run's days had before this rerun, which may have left them
        select topic_id from {{ this }}
        where {{ overlaps_window('first_seen', 'last_seen') }}
    {%- endif %}
),

days as (
    select
        partition_date,
        topic_id,
        day_label,
        keywords,
        claims,
        podcasts,
        row_number() over (partition by topic_id order by partition_date) as day_number
    from {{ ref('stg_topics') }}
    where topic_id in (select t.topic_id from touched as t)
),

runs as (
    select
        topic_id,
        min(partition_date) as first_seen,
        max(partition_date) as last_seen,
        count(*) as days_seen,
        sum(claims) as claims,
        max(podcasts) as max_podcasts
    from days
    group by topic_id
),

featured as (
    select
        topic_id,
        count(*) as days_featured,
        min(rank) as best_rank,
        max(partition_date) as last_featured
    from {{ ref('stg_digest_insights') }}
    where topic_id in (select t.topic_id from touched as t)
    group by topic_id
)

select
    d.topic_id,
    d.day_label as topic_label,
    d.keywords as first_keywords,
    r.first_seen,
    r.last_seen,
    r.days_seen,
    r.claims,
    r.max_podcasts,
    f.best_rank,
    f.last_featured,
    coalesce(f.days_featured, 0) as days_featured
from days as d
inner join runs as r on d.topic_id = r.topic_id
left join featured as f on d.topic_id = f.topic_id
where d.day_number = 1
