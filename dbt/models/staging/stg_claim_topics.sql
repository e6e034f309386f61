-- Which theme each claim of the day belongs to.
select
    partition_date,
    claim_id,
    topic_id,
    centrality
from {{ source('warehouse', 'claim_topics') }}
