"""From chain content to Amp's raw tables of a block range: the hash chain, the `blocks` table,
and (from `logs` and `transactions`) every other table of both datasets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from eth_hash.auto import keccak

from amp_local.chain.columns import binary, decimal128, fixed_binary, timestamps, u64_be
from amp_local.chain.contracts import EMPTY_OMMERS_HASH, N_MINERS
from amp_local.chain.generate import AddressBook, ChainContent
from amp_local.chain.logs import Logs, block_numbers, log_events, log_rows, logs_bloom, logs_table
from amp_local.chain.spec import FIREHOSE_DATASET, RPC_DATASET, ChainSpec
from amp_local.chain.transactions import (
    calls_table,
    firehose_transactions,
    rpc_transactions,
    shared_transaction_columns,
    transaction_calldata,
)
from amp_local.schemas import RAW_SCHEMAS


@dataclass
class BuiltRange:
    """The tables of blocks [first, last] and the hash chain they carry."""

    first: int
    last: int
    hashes: np.ndarray  # (n, 32)
    parents: np.ndarray
    timestamps: np.ndarray  # seconds
    tables: dict[str, dict[str, pa.Table]]  # dataset -> table -> data
    events: dict[str, np.ndarray]  # the logs, for `truth`


def build_range(
    spec: ChainSpec, content: ChainContent, prev_hash: bytes, block_times: np.ndarray
) -> BuiltRange:
    """Every table of both datasets for the blocks of `content`, chained onto `prev_hash`."""
    book = AddressBook.of(spec)
    hashes, parents = hash_chain(content, book, prev_hash)
    logs = log_rows(content)
    calldata, calldata_length = transaction_calldata(content, book)
    shared = shared_transaction_columns(content, book, hashes, block_times)
    firehose_txs, begin, end = firehose_transactions(
        spec, content, logs, calldata, calldata_length, shared
    )
    blocks = blocks_table(content, book, hashes, parents, block_times, logs)
    logs_data = logs_table(content, book, logs, hashes, block_times)
    numbers = block_numbers(content)[content.tx_block]
    calls = calls_table(content, book, calldata, calldata_length, shared, numbers, begin, end)
    rpc_txs = rpc_transactions(spec, content, calldata, calldata_length, shared)
    return BuiltRange(
        first=content.first,
        last=content.last,
        hashes=hashes,
        parents=parents,
        timestamps=block_times,
        tables={
            FIREHOSE_DATASET: {
                "blocks": blocks,
                "transactions": firehose_txs,
                "calls": calls,
                "logs": logs_data,
            },
            RPC_DATASET: {"blocks": blocks, "transactions": rpc_txs, "logs": logs_data},
        },
        events=log_events(content, book, logs),
    )


def hash_chain(
    content: ChainContent, book: AddressBook, prev_hash: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Block hashes and parent hashes: `hash = keccak(parent ‖ number ‖ state_root ‖
    transactions_root ‖ receipt_root ‖ miner)` (the timestamp is not covered)."""
    n = len(content.tx_count)
    body = np.concatenate(
        [
            u64_be(block_numbers(content)),
            content.state_root,
            content.tx_root,
            content.receipt_root,
            book.miners[content.miner],
        ],
        axis=1,
    )
    parent = prev_hash
    chained = bytearray()
    for row in (bytes(r) for r in body):
        chained += parent
        parent = keccak(parent + row)
    parents = np.frombuffer(bytes(chained), np.uint8).reshape(n, 32).copy()
    hashes = np.empty((n, 32), np.uint8)
    hashes[:-1] = parents[1:]
    hashes[-1] = np.frombuffer(parent, np.uint8)
    return hashes, parents


# --------------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------------

_EXTRA_DATA = np.frombuffer(
    b"".join(f"amp-local builder {i:02d}".encode() for i in range(N_MINERS)), np.uint8
).reshape(N_MINERS, -1)


def blocks_table(
    content: ChainContent,
    book: AddressBook,
    hashes: np.ndarray,
    parents: np.ndarray,
    block_times: np.ndarray,
    logs: Logs,
) -> pa.Table:
    """Post-Dencun headers: difficulty 0, no total difficulty or requests hash, blob gas 0."""
    n = len(content.tx_count)
    gas_used = np.bincount(content.tx_block, weights=content.gas_used, minlength=n)
    extra = _EXTRA_DATA[content.miner]
    numbers = pa.array(block_numbers(content))
    return pa.table(
        {
            "_block_num": numbers,
            "block_num": numbers,
            "timestamp": timestamps(block_times),
            "hash": fixed_binary(hashes, 32),
            "parent_hash": fixed_binary(parents, 32),
            "ommers_hash": fixed_binary(
                np.tile(np.frombuffer(EMPTY_OMMERS_HASH, np.uint8), (n, 1)), 32
            ),
            "miner": fixed_binary(book.miners[content.miner], 20),
            "state_root": fixed_binary(content.state_root, 32),
            "transactions_root": fixed_binary(content.tx_root, 32),
            "receipt_root": fixed_binary(content.receipt_root, 32),
            "logs_bloom": binary(logs_bloom(content, book, logs), np.full(n, 256)),
            "difficulty": decimal128(np.zeros(n, np.uint64)),
            "total_difficulty": pa.nulls(n, pa.decimal128(38, 0)),
            "gas_limit": pa.array(np.full(n, 30_000_000, np.uint64)),
            "gas_used": pa.array(gas_used.astype(np.uint64)),
            "extra_data": binary(extra, np.full(n, extra.shape[1])),
            "mix_hash": fixed_binary(content.mix_hash, 32),
            "nonce": pa.array(np.zeros(n, np.uint64)),
            "base_fee_per_gas": decimal128(content.base_fee),
            "withdrawals_root": fixed_binary(content.withdrawals_root, 32),
            "blob_gas_used": pa.array(np.zeros(n, np.uint64)),
            "excess_blob_gas": pa.array(np.zeros(n, np.uint64)),
            "parent_beacon_root": fixed_binary(content.beacon_root, 32),
            "requests_hash": pa.nulls(n, pa.binary(32)),
        },
        schema=RAW_SCHEMAS["evm-rpc"]["blocks"],
    )
