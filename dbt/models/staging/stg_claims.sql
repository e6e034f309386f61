-- One row per claim.
select
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
