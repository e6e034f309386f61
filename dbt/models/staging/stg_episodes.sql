-- One row per episode and day; its length decoded once the audio is stored, else the feed's.
select
    episodes.partition_date,
    episodes.feed,
    episodes.guid as episode_guid,
    episodes.title as episode_title,
    episodes.feed_title as show_title,
    episodes.published_at,
    episodes.audio_url,
    coalesce(audio.duration_s, episodes.duration_s) as duration_s
from {{ source('warehouse', 'episodes') }} as episodes
left join {{ source('warehouse', 'episode_audio') }} as audio
    on
        episodes.partition_date = audio.partition_date
        and episodes.feed = audio.feed
        and episodes.guid = audio.episode_guid
        and episodes.audio_url = audio.audio_url
