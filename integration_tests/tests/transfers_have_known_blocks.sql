-- Every decoded transfer belongs to a block the chain has.
select t.block_num
from {{ ref('stg_erc20_transfers') }} t
left join {{ source('eth', 'blocks') }} b on b.block_num = t.block_num
where b.block_num is null
