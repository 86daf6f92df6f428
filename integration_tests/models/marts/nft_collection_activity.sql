select
    evm_decode_hex(collection) as collection,
    count(*) as transfers,
    count(distinct token_id) as tokens_moved,
    min(block_num) as first_block,
    max(block_num) as last_block
from {{ ref('stg_erc721_transfers') }}
group by 1
