"""The transactions of the synthetic chain: real ABI calldata, the evm-rpc and firehose
`transactions` tables, firehose ordinals, and the firehose `calls` table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from amp_local.chain.columns import (
    binary,
    constant_binary,
    decimal128,
    decimal_strings,
    fixed_binary,
    mul_u64,
    rank_within,
    timestamps,
    uint256_words,
)
from amp_local.chain.contracts import (
    DEPLOY,
    ERC20_APPROVE,
    ERC20_TRANSFER,
    ETH_TRANSFER,
    N_EOAS,
    NFT_TRANSFER,
    PAIR_IDS,
    PAIR_TOKEN0,
    PAIR_TOKEN1,
    ROUTER_ID,
    SEL_APPROVE,
    SEL_SWAP,
    SEL_TRANSFER,
    SEL_TRANSFER_FROM,
    SWAP,
)
from amp_local.chain.generate import AddressBook, ChainContent
from amp_local.chain.logs import Logs, block_numbers
from amp_local.chain.spec import ChainSpec
from amp_local.schemas import RAW_SCHEMAS

RPC_TRANSACTIONS = RAW_SCHEMAS["evm-rpc"]["transactions"]
FIREHOSE_TRANSACTIONS = RAW_SCHEMAS["firehose"]["transactions"]
ACCESS_LIST = RPC_TRANSACTIONS.field("access_list").type
CALLDATA_BYTES = 4 + 5 * 32  # the longest calldata the chain uses (a swap)
TRUE_WORD = np.zeros(32, np.uint8)
TRUE_WORD[31] = 1


def transaction_calldata(
    content: ChainContent, book: AddressBook
) -> tuple[np.ndarray, np.ndarray]:
    """Real ABI calldata per transaction: (T, CALLDATA_BYTES) bytes and each one's length."""
    kind, addresses = content.kind, book.addresses
    t = len(kind)
    data = np.zeros((t, CALLDATA_BYTES), np.uint8)
    length = np.select(
        [
            np.isin(kind, (ERC20_TRANSFER, ERC20_APPROVE)),
            kind == NFT_TRANSFER,
            kind == SWAP,
            kind == DEPLOY,
        ],
        [68, 100, 164, 64],
        0,
    )
    amount = uint256_words(content.amount_lo, content.amount_hi, content.unlimited)
    rows = kind == ERC20_TRANSFER  # transfer(address to, uint256 amount)
    data[rows, :4] = np.frombuffer(SEL_TRANSFER, np.uint8)
    data[rows, 16:36] = addresses[content.recipient[rows]]
    data[rows, 36:68] = amount[rows]
    rows = kind == ERC20_APPROVE  # approve(address spender, uint256 amount)
    data[rows, :4] = np.frombuffer(SEL_APPROVE, np.uint8)
    data[rows, 16:36] = addresses[N_EOAS + ROUTER_ID]
    data[rows, 36:68] = amount[rows]
    rows = kind == NFT_TRANSFER  # transferFrom(address from, address to, uint256 tokenId)
    data[rows, :4] = np.frombuffer(SEL_TRANSFER_FROM, np.uint8)
    data[rows, 16:36] = addresses[content.sender[rows]]
    data[rows, 48:68] = addresses[content.recipient[rows]]
    data[rows, 68:100] = uint256_words(content.nft_token_id[rows].astype(np.uint64))
    rows = kind == SWAP  # swap(uint256 amount0Out, uint256 amount1Out, address to, bytes data)
    amount_out = uint256_words(content.amount_out_lo[rows], content.amount_out_hi[rows])
    direction = content.direction[rows]
    data[rows, :4] = np.frombuffer(SEL_SWAP, np.uint8)
    data[rows, 4:36] = np.where(direction[:, None] == 1, amount_out, 0)  # amount0Out
    data[rows, 36:68] = np.where(direction[:, None] == 0, amount_out, 0)  # amount1Out
    data[rows, 80:100] = addresses[content.sender[rows]]
    data[rows, 131] = 0x80  # offset of `bytes data`; its length word (0) follows
    rows = kind == DEPLOY
    data[rows, :5] = np.frombuffer(bytes.fromhex("6080604052"), np.uint8)
    data[rows, 5:64] = content.tx_hash[rows, :1].repeat(59, axis=1) ^ np.arange(59, dtype=np.uint8)
    return data, length


@dataclass
class TransactionColumns:
    """Columns and values that both transaction tables (and the calls) use."""

    leading: dict[str, pa.Array]  # block, identity, `to` and nonce: the first columns
    block_hashes: np.ndarray  # (T, 32), the transaction's block
    times: np.ndarray  # seconds, the transaction's block
    effective_price: np.ndarray  # wei per gas
    max_fee: pa.Array
    max_priority_fee: pa.Array
    gas_used: pa.Array
    gas_limit: pa.Array
    value: pa.Array  # wei, as a decimal string
    value_lo: np.ndarray  # wei, as 128-bit limbs
    value_hi: np.ndarray
    sender: pa.Array
    legacy: np.ndarray
    return_length: np.ndarray  # 32 for a successful ERC-20 call (it returns true), else 0


def shared_transaction_columns(
    content: ChainContent, book: AddressBook, hashes: np.ndarray, block_times: np.ndarray
) -> TransactionColumns:
    block = content.tx_block
    base_fee = content.base_fee[block]
    legacy = content.tx_type == 0
    numbers = pa.array(block_numbers(content)[block])
    addresses = book.addresses
    value_lo, value_hi = mul_u64(
        content.eth_mantissa, np.uint64(10) ** content.eth_exponent.astype(np.uint64)
    )
    return TransactionColumns(
        leading={
            "_block_num": numbers,
            "block_hash": fixed_binary(hashes[block], 32),
            "block_num": numbers,
            "timestamp": timestamps(block_times[block]),
            "tx_index": pa.array(content.tx_index, pa.uint32()),
            "tx_hash": fixed_binary(content.tx_hash, 32),
            "to": fixed_binary(addresses[np.maximum(content.to, 0)], 20, content.to >= 0),
            "nonce": pa.array(content.nonce, pa.uint64()),
        },
        block_hashes=hashes[block],
        times=block_times[block],
        effective_price=base_fee + content.priority_fee,
        max_fee=decimal128(2 * base_fee + content.priority_fee, valid=~legacy),
        max_priority_fee=decimal128(content.priority_fee, valid=~legacy),
        gas_used=pa.array(content.gas_used.astype(np.uint64)),
        gas_limit=pa.array(content.gas_limit.astype(np.uint64)),
        value=decimal_strings(content.eth_mantissa, content.eth_exponent),
        value_lo=value_lo,
        value_hi=value_hi,
        sender=fixed_binary(addresses[content.sender], 20),
        legacy=legacy,
        return_length=np.where(
            content.succeeded & np.isin(content.kind, (ERC20_TRANSFER, ERC20_APPROVE)), 32, 0
        ),
    )


def rpc_transactions(
    spec: ChainSpec,
    content: ChainContent,
    calldata: np.ndarray,
    calldata_length: np.ndarray,
    shared: TransactionColumns,
) -> pa.Table:
    """evm-rpc `transactions`: legacy transactions have a gas price, EIP-1559 ones fee caps."""
    t = len(content.kind)
    legacy = shared.legacy
    no_access_lists = pa.ListArray.from_arrays(
        pa.array(np.zeros(t + 1, np.int32)),
        pa.array([], ACCESS_LIST.value_type),
        type=ACCESS_LIST,
        mask=pa.array(legacy),
    )
    return pa.table(
        {
            **shared.leading,
            "gas_price": decimal128(shared.effective_price, valid=legacy),
            "gas_limit": shared.gas_limit,
            "value": shared.value,
            "input": binary(calldata, calldata_length),
            "r": fixed_binary(content.r, 32),
            "s": fixed_binary(content.s, 32),
            "v_parity": pa.array(content.v_parity),
            "chain_id": pa.array(np.full(t, spec.chain_id, np.uint64)),
            "gas_used": shared.gas_used,
            "type": pa.array(content.tx_type),
            "max_fee_per_gas": shared.max_fee,
            "max_priority_fee_per_gas": shared.max_priority_fee,
            "max_fee_per_blob_gas": pa.nulls(t, pa.decimal128(38, 0)),
            "from": shared.sender,
            "status": pa.array(content.succeeded),
            "state_root": pa.nulls(t, pa.binary(32)),
            "access_list": no_access_lists,
            "blob_versioned_hashes": pa.nulls(
                t, RPC_TRANSACTIONS.field("blob_versioned_hashes").type
            ),
            "authorization_list": pa.nulls(t, RPC_TRANSACTIONS.field("authorization_list").type),
        },
        schema=RPC_TRANSACTIONS,
    )


def call_counts(content: ChainContent) -> np.ndarray:
    """Calls per transaction: the root call, plus the pair's token transfer of a swap."""
    return 1 + (content.succeeded & (content.kind == SWAP)).astype(np.int64)


def firehose_ordinals(content: ChainContent, logs: Logs) -> tuple[np.ndarray, np.ndarray]:
    """Firehose `begin_ordinal`/`end_ordinal` per transaction: a span per transaction (2 per call,
    1 per log, 2 more), counted from 1 in each block."""
    span = 2 * call_counts(content) + logs.per_tx + 2
    total = np.cumsum(span)
    tx_count = content.tx_count
    first_tx = np.repeat(np.cumsum(tx_count) - tx_count, tx_count)
    end = total - np.where(first_tx > 0, total[np.maximum(first_tx - 1, 0)], 0)
    return end - span + 1, end


def firehose_transactions(
    spec: ChainSpec,
    content: ChainContent,
    logs: Logs,
    calldata: np.ndarray,
    calldata_length: np.ndarray,
    shared: TransactionColumns,
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """firehose `transactions` (v/r/s as bytes, status as a number), and the ordinals."""
    t = len(content.kind)
    begin, end = firehose_ordinals(content, logs)
    parity = content.v_parity
    legacy_v = np.where(parity, 38, 37) if spec.chain_id == 1 else np.where(parity, 1, 0)
    v = np.where(shared.legacy, legacy_v, parity.astype(np.int64)).astype(np.uint8)[:, None]
    table = pa.table(
        {
            **shared.leading,
            "gas_price": decimal128(shared.effective_price),
            "gas_limit": shared.gas_limit,
            "value": shared.value,
            "input": binary(calldata, calldata_length),
            "v": binary(v, np.ones(t)),
            "r": binary(content.r, np.full(t, 32)),
            "s": binary(content.s, np.full(t, 32)),
            "gas_used": shared.gas_used,
            "type": pa.array(content.tx_type),
            "max_fee_per_gas": shared.max_fee,
            "max_priority_fee_per_gas": shared.max_priority_fee,
            "from": shared.sender,
            "status": pa.array(np.where(content.succeeded, 1, 3).astype(np.int32)),
            "return_data": binary(np.tile(TRUE_WORD, (t, 1)), shared.return_length),
            "public_key": constant_binary(b"", t),
            "begin_ordinal": pa.array(begin.astype(np.uint64)),
            "end_ordinal": pa.array(end.astype(np.uint64)),
        },
        schema=FIREHOSE_TRANSACTIONS,
    )
    return table, begin, end


# --------------------------------------------------------------------------------------------------
# Calls (firehose)
# --------------------------------------------------------------------------------------------------


def calls_table(
    content: ChainContent,
    book: AddressBook,
    calldata: np.ndarray,
    calldata_length: np.ndarray,
    shared: TransactionColumns,
    block_numbers_of_tx: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
) -> pa.Table:
    """A root call per transaction (CALL, or CREATE for a deployment) and, for a swap, the
    pair's nested `transfer` of the token out (depth 1)."""
    addresses, kind = book.addresses, content.kind
    per_tx = call_counts(content)
    n = int(per_tx.sum())
    tx = np.repeat(np.arange(len(kind)), per_tx)
    depth = rank_within(per_tx)
    nested = depth == 1
    call_kind = kind[tx]
    caller = np.where(nested, N_EOAS + np.maximum(content.contract[tx], 0), content.sender[tx])
    callee = addresses[np.maximum(content.to[tx], 0)].copy()
    callee[call_kind == DEPLOY] = content.created[tx[call_kind == DEPLOY]]
    pair = np.searchsorted(PAIR_IDS, content.contract[tx[nested]])
    token_out = np.where(content.direction[tx[nested]] == 0, PAIR_TOKEN1[pair], PAIR_TOKEN0[pair])
    callee[nested] = addresses[N_EOAS + token_out]
    call_data = np.zeros((n, calldata.shape[1]), np.uint8)
    call_data[~nested] = calldata[tx[~nested]]
    call_length = np.where(nested, 68, calldata_length[tx])
    call_data[nested, :4] = np.frombuffer(SEL_TRANSFER, np.uint8)
    call_data[nested, 16:36] = addresses[content.sender[tx[nested]]]
    call_data[nested, 36:68] = uint256_words(
        content.amount_out_lo[tx[nested]], content.amount_out_hi[tx[nested]]
    )
    returns = np.where(nested | (shared.return_length[tx] > 0), 32, 0)
    gas_limit = np.maximum(content.gas_limit[tx] - 21_000 - 16 * calldata_length[tx], 0)
    gas_used = np.maximum(content.gas_used[tx] - 21_000, 0)
    gas_limit = np.where(nested, gas_limit * 9 // 10, gas_limit)
    gas_used = np.where(nested, gas_used // 4, gas_used)
    call_begin = begin[tx] + np.where(nested, 2, 1)
    call_end = np.where(nested, begin[tx] + 3, end[tx] - 1)
    carries_value = (~nested) & (content.eth_mantissa[tx] > 0)
    numbers = pa.array(block_numbers_of_tx[tx])
    return pa.table(
        {
            "_block_num": numbers,
            "block_hash": fixed_binary(shared.block_hashes[tx], 32),
            "block_num": numbers,
            "timestamp": timestamps(shared.times[tx]),
            "tx_index": pa.array(content.tx_index[tx], pa.uint32()),
            "tx_hash": fixed_binary(content.tx_hash[tx], 32),
            "index": pa.array((depth + 1).astype(np.uint32)),
            "parent_index": pa.array(depth.astype(np.uint32)),
            "depth": pa.array(depth.astype(np.uint32)),
            "call_type": pa.array(np.where(call_kind == DEPLOY, 5, 1).astype(np.int32)),
            "caller": fixed_binary(addresses[caller], 20),
            "address": fixed_binary(callee, 20),
            "value": decimal128(shared.value_lo[tx], shared.value_hi[tx], carries_value),
            "gas_limit": pa.array(gas_limit.astype(np.uint64)),
            "gas_consumed": pa.array(gas_used.astype(np.uint64)),
            "return_data": binary(np.tile(TRUE_WORD, (n, 1)), returns),
            "input": binary(call_data, call_length),
            "selfdestruct": pa.array(np.zeros(n, bool)),
            "executed_code": pa.array(call_kind != ETH_TRANSFER),
            "begin_ordinal": pa.array(call_begin.astype(np.uint64)),
            "end_ordinal": pa.array(call_end.astype(np.uint64)),
        },
        schema=RAW_SCHEMAS["firehose"]["calls"],
    )
