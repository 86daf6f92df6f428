-- The ORIGINAL-DESIGN style: a dependency alias instead of a dbt source.
{{ config(dependencies={'eth': '_/eth_rpc@1.0.0'}) }}

select
    a.block_num,
    a.address as token,
    a.ev['owner'] as owner,
    a.ev['spender'] as spender,
    a.ev['value'] as allowance_raw
from (
    select
        block_num, address,
        {{ evm_decode('topic1', 'topic2', 'topic3', 'data',
            'Approval(address indexed owner, address indexed spender, uint256 value)') }} as ev
    from {{ ref('eth').logs }}
    where topic0 = evm_topic('Approval(address indexed owner, address indexed spender, uint256 value)')
) a
