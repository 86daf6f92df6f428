-- ERC-20 Transfer events, decoded by Amp's evm_decode_log. ERC-721 shares the signature's topic0
-- but indexes tokenId (4 topics), so a present topic3 marks an NFT transfer.
select
    l.block_num,
    l.timestamp,
    l.tx_hash,
    l.log_index,
    l.address as token,
    l.ev['from'] as from_address,
    l.ev['to'] as to_address,
    l.ev['value'] as amount_raw
from (
    select
        block_num, timestamp, tx_hash, log_index, address,
        evm_decode_log(topic1, topic2, topic3, data,
            'Transfer(address indexed from, address indexed to, uint256 value)') as ev
    from {{ source('eth', 'logs') }}
    where topic0 = evm_topic('Transfer(address indexed from, address indexed to, uint256 value)')
      and topic3 is null
) l
