-- One row per claim.
select
    -- claim ids are unique within a day; an episode can move day, so the key carries the day
    partition_date,
    claim_id,
    feed,
    episode_guid,
    start_s,
    end_s,
    text,
    score,
    speaker,
    cast(partition_date as varchar) || '/' || claim_id as claim_key
from {{ source('warehouse', 'claims') }}
