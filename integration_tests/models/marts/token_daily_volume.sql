-- Daily ERC-20 transfer counts and raw volume per token.
select
    evm_decode_hex(token) as token,
    date_trunc('day', timestamp) as day,
    count(*) as transfers,
    count(distinct from_address) as senders,
    sum(cast(amount_raw as decimal(38, 0))) as volume_raw
from {{ ref('stg_erc20_transfers') }}
group by 1, 2
