-- Daily ERC-20 transfer counts and raw volume per token.
--
-- amount_raw is a uint256 as a decimal string of up to 78 digits, which no SQL decimal holds in
-- full (DECIMAL(38, 0) aborts the whole query on the first larger value, and max-uint256 "spam"
-- transfers exist on mainnet). Amounts of up to 60 digits are summed exactly as DECIMAL(76, 0)
-- (Decimal256: fewer than 10^16 of them cannot overflow it, whereas a Decimal256 sum past ~5.8e76
-- wraps around silently); larger or unparseable ones are left out of volume_raw and counted in
-- unsummed_transfers.
with transfers as (
    select
        token,
        timestamp,
        from_address,
        case when length(amount_raw) <= 60 then try_cast(amount_raw as decimal(76, 0)) end as amount
    from {{ ref('stg_erc20_transfers') }}
)

select
    evm_decode_hex(token) as token,
    date_trunc('day', timestamp) as day,
    count(*) as transfers,
    count(distinct from_address) as senders,
    sum(amount) as volume_raw,
    count(*) - count(amount) as unsummed_transfers
from transfers
group by 1, 2
