-- An Amp derived dataset: Amp's own workers materialize the decoded ERC-20 transfers block range
-- by block range into `"<namespace>/erc20_transfers@dev".erc20_transfers`; dbt registers it,
-- deploys it up to the chain head and waits for the job (see dbt_project.yml, `datasets:`).
select block_num, timestamp, tx_hash, log_index, token, from_address, to_address, amount_raw
from {{ ref('stg_erc20_transfers') }}
