"""A deterministic synthetic EVM chain written as Amp raw datasets (`eth_firehose`, `eth_rpc`).

`generate_chain(out_dir, blocks=…, seed=…)` writes, in the layout of Amp's own snapshots::

    <out_dir>/chain.json                        spec + head of what was written (reuse marker)
    <out_dir>/eth_firehose/manifest.json        raw manifest, kind `firehose`
    <out_dir>/eth_firehose/{blocks,transactions,calls,logs}/<start:09d>-<16 hex>.parquet
    <out_dir>/eth_rpc/manifest.json             raw manifest, kind `evm-rpc`
    <out_dir>/eth_rpc/{blocks,transactions,logs}/<start:09d>-<16 hex>.parquet

Each parquet file has exactly the table's Amp schema (`amp_local.schemas`), rows sorted by block (then
`tx_index`, `log_index` / call `index`), ZSTD like Amp, and carries Amp's footer key/value metadata
`nozzle_metadata` = `{"table","filename","created_at","ranges":[{"numbers":{"start","end"},"network",
"hash","prev_hash","timestamp"}]}` (`hash` = hash of the range's end block, `prev_hash` = parent hash of
its start block, `timestamp` = end block's timestamp in seconds), so ranges are readable from footers
alone (`amp_local.segments`). Both datasets describe the same chain: identical blocks, tx
hashes and logs; only the kind-specific transaction columns and firehose `calls` differ.

What the chain contains (everything a pure function of `(seed, network, block number)`):

* blocks every 12 s exactly, block `start_block` at 2024-06-01T00:00:00Z (`GENESIS_TIMESTAMP`);
  post-Dencun header shape (difficulty 0, `total_difficulty`/`requests_hash` null, withdrawals root,
  blob gas 0, parent beacon root). `hash = keccak(parent_hash ‖ number ‖ state_root ‖ transactions_root
  ‖ receipt_root ‖ miner)`, `parent_hash` = previous block's hash. `logs_bloom` is the real 2048-bit
  bloom of the block's log addresses and topics.
* ~`tx_per_block` transactions per block (Poisson, mean varying per block); kinds: ETH transfer, ERC-20
  `transfer`, ERC-20 `approve` (30 % unlimited = 2**256-1), ERC-721 `transferFrom`, Uniswap-V2 pair
  `swap`, contract creation (`to` null); ~3 % of token transactions revert (status false, no logs).
  Calldata is real ABI (`transfer(address,uint256)` = 0xa9059cbb…). tx hashes, r/s and roots are
  seeded random 32-byte values (not keccak of an RLP encoding).
* Tokens (`TOKENS`, fixed addresses = keccak("amp-local:<SYMBOL>")[12:]): USDC and USDT have 6
  decimals; WETH, DAI and GRT have 18. ERC-721 collections `APES`, `PUNKS`; V2 pairs WETH/USDC,
  WETH/DAI, GRT/WETH (token0 < token1 by address, as Uniswap sorts them); `ROUTER` is the approval
  spender.
* Logs, ABI-encoded exactly as Solidity emits them (topic0 = keccak of the canonical signature,
  indexed addresses left-padded to 32 bytes, data = ABI encoding of the non-indexed params):
  `Transfer(address indexed,address indexed,uint256)` (ERC-20: 3 topics), `Approval(address indexed,
  address indexed,uint256)`, ERC-721 `Transfer(address indexed,address indexed,uint256 indexed)` (4
  topics, empty data), and per swap: Transfer in, Transfer out, `Swap(address indexed sender,uint256
  amount0In,uint256 amount1In,uint256 amount0Out,uint256 amount1Out,address indexed to)`.
* firehose `calls`: a root call per tx (CALL, or CREATE for deployments), plus the pair's nested
  `transfer` call (depth 1) for swaps.

Ground truth for tests: `decoded_events(out_dir)` / `erc20_transfers(out_dir)` recompute, from the
spec alone, every event the generator wrote.

The package, by job: `spec` (ChainSpec, ChainInfo / chain.json, constants), `contracts` (the fixed
contracts, selectors, topics, transaction kinds), `generate` (random content per epoch), `columns`
(vectorized ABI/Arrow encoding), `logs` and `transactions` (what each transaction emits and calls,
their tables), `tables` (a block range's hash chain and all its tables), `write` (parquet files,
manifests, `generate_chain`), `follow` (`ChainFollower`), `truth` (the ground truth), `__main__`
(`python -m amp_local.chain`).

Following (`ChainFollower`, `amp-local`/`python -m amp_local.chain --follow`): appends blocks after the
head, one new parquet file per table per append, each written to a temporary name that does not end in
`.parquet` and then `os.replace`d, so a reader listing `*.parquet` never sees a partial file. Appended
blocks have exactly the content and hashes a longer `generate_chain` would have produced (hashes do not
cover the timestamp); only their timestamps differ: `max(previous + 1 s, now)`, so freshness can be
measured against the wall clock. The historic part stays fully deterministic. Tables are written one
after the other and `chain.json` last, so `read_chain_info(out_dir).head` is a block every table has.
"""

from __future__ import annotations

from amp_local.chain.contracts import CONTRACTS, TOKENS, Contract, contract_address
from amp_local.chain.follow import ChainFollower
from amp_local.chain.spec import (
    EPOCH_BLOCKS,
    GENESIS_TIMESTAMP,
    ChainInfo,
    ChainSpec,
    read_chain_info,
)
from amp_local.chain.truth import DecodedEvent, Transfer, decoded_events, erc20_transfers
from amp_local.chain.write import generate_chain

__all__ = [
    "CONTRACTS",
    "EPOCH_BLOCKS",
    "GENESIS_TIMESTAMP",
    "TOKENS",
    "ChainFollower",
    "ChainInfo",
    "ChainSpec",
    "Contract",
    "DecodedEvent",
    "Transfer",
    "contract_address",
    "decoded_events",
    "erc20_transfers",
    "generate_chain",
    "read_chain_info",
]
