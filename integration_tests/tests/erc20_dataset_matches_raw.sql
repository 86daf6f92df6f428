-- The dataset Amp materialized holds exactly the ERC-20 transfers an ad-hoc query finds in the raw
-- logs up to the block the job reached.
with reached as (select max(block_num) as head from {{ ref('erc20_transfers') }}),
raw as (
    select count(*) as n
    from {{ ref('stg_erc20_transfers') }}
    where block_num <= (select head from reached)
)
select * from raw where n <> (select count(*) from {{ ref('erc20_transfers') }})
