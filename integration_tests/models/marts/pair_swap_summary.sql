select
    evm_decode_hex(pair) as pair,
    count(*) as swaps,
    count(distinct evm_decode_hex(sender)) as traders
from {{ ref('stg_swaps') }}
group by 1
