-- One row per claim.
select
    cast(partition_date as varchar) || '/' || claim_id as claim_key,  -- an episode can move day
    partition_date,
    claim_id,
    feed,
    episode_guid,
    start_s,
    end_s,
    text,
    score,
    speaker
from {{ source('warehouse', 'claims') }}
