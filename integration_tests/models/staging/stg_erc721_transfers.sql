select
    l.block_num,
    l.timestamp,
    l.tx_hash,
    l.log_index,
    l.address as collection,
    l.ev['from'] as from_address,
    l.ev['to'] as to_address,
    l.ev['tokenId'] as token_id
from (
    select
        block_num, timestamp, tx_hash, log_index, address,
        evm_decode_log(topic1, topic2, topic3, data,
            'Transfer(address indexed from, address indexed to, uint256 indexed tokenId)') as ev
    from {{ source('eth', 'logs') }}
    where topic0 = evm_topic('Transfer(address indexed from, address indexed to, uint256 indexed tokenId)')
      and topic3 is not null
) l
