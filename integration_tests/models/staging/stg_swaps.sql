select
    s.block_num,
    s.timestamp,
    s.tx_hash,
    s.log_index,
    s.address as pair,
    s.ev['sender'] as sender,
    s.ev['to'] as recipient,
    s.ev['amount0In'] as amount0_in,
    s.ev['amount1In'] as amount1_in,
    s.ev['amount0Out'] as amount0_out,
    s.ev['amount1Out'] as amount1_out
from (
    select
        block_num, timestamp, tx_hash, log_index, address,
        evm_decode_log(topic1, topic2, topic3, data,
            'Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)') as ev
    from {{ source('eth', 'logs') }}
    where topic0 = evm_topic('Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)')
) s
