-- Approvals of the maximum uint256 allowance ("infinite approvals"), per token.
select
    evm_decode_hex(token) as token,
    count(*) as approvals,
    sum(case when allowance_raw = '115792089237316195423570985008687907853269984665640564039457584007913129639935'
             then 1 else 0 end) as unlimited
from {{ ref('stg_approvals') }}
group by 1
