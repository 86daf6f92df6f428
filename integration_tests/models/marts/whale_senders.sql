-- An ad-hoc analysis over a materialized dataset (a query model may aggregate freely).
select
    evm_decode_hex(from_address) as sender,
    count(*) as whale_transfers,
    count(distinct token) as tokens
from {{ ref('whale_transfers') }}
group by 1
