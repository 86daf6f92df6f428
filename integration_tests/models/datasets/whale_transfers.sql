-- A dataset on top of a dataset: dbt pins `erc20_transfers` by its manifest hash in this
-- dataset's dependencies. Transfers of at least 10^24 base units (a million tokens at 18 decimals).
select block_num, tx_hash, log_index, token, from_address, to_address, amount_raw
from {{ ref('erc20_transfers') }}
where length(amount_raw) >= 25
