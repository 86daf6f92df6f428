"""The logs of the synthetic chain: which logs each transaction emits (as Solidity emits them), their
ABI data, the blocks' logs blooms, and the `logs` table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from amp_local.chain.columns import (
    address_words,
    binary,
    fixed_binary,
    rank_within,
    timestamps,
    uint256_words,
)
from amp_local.chain.contracts import (
    ERC20_APPROVE,
    ERC20_TRANSFER,
    N_EOAS,
    NFT_TRANSFER,
    PAIR_IDS,
    PAIR_TOKEN0,
    PAIR_TOKEN1,
    ROUTER_ID,
    SWAP,
    TOPIC0_APPROVAL,
    TOPIC0_SWAP,
    TOPIC0_TRANSFER,
    TOPIC0_WORDS,
)
from amp_local.chain.generate import AddressBook, ChainContent
from amp_local.schemas import RAW_SCHEMAS


def block_numbers(content: ChainContent) -> np.ndarray:
    return np.arange(content.first, content.last + 1, dtype=np.uint64)


@dataclass
class Logs:
    """One row per log. Address/topic columns are address ids (`AddressBook`)."""

    per_tx: np.ndarray  # logs of each transaction
    tx: np.ndarray  # the log's transaction
    block: np.ndarray  # the log's block, as a position in the range
    log_index: np.ndarray
    address: np.ndarray
    topic0: np.ndarray  # index into TOPIC0_WORDS
    topic1: np.ndarray
    topic2: np.ndarray
    nft: np.ndarray  # an ERC-721 Transfer (indexed tokenId in topic3, no data)
    token_id: np.ndarray
    swap_event: np.ndarray  # the Swap event of a swap (its third log)
    event_kind: np.ndarray  # 0 Transfer, 1 Approval, 2 ERC-721 Transfer, 3 Swap
    data: np.ndarray  # (L, 4, 32) data words
    data_words: np.ndarray  # how many of them are used


def log_rows(content: ChainContent) -> Logs:
    """The logs successful token transactions emit, as Solidity does: ERC-20 Transfer and
    Approval, ERC-721 Transfer, and per swap Transfer in, Transfer out and the pair's Swap."""
    kind = content.kind
    token_kinds = np.isin(kind, (ERC20_TRANSFER, ERC20_APPROVE, NFT_TRANSFER))
    per_tx = np.where(content.succeeded, np.select([kind == SWAP, token_kinds], [3, 1], 0), 0)
    tx = np.repeat(np.arange(len(kind)), per_tx)
    position = rank_within(per_tx)  # 0, 1, 2 within a swap's logs
    log_kind = kind[tx]
    contract = content.contract[tx]
    direction = content.direction[tx]
    pair = np.searchsorted(PAIR_IDS, np.where(log_kind == SWAP, contract, PAIR_IDS[0]))
    token_in = np.where(direction == 0, PAIR_TOKEN0[pair], PAIR_TOKEN1[pair])
    token_out = np.where(direction == 0, PAIR_TOKEN1[pair], PAIR_TOKEN0[pair])
    sender, recipient = content.sender[tx], content.recipient[tx]
    pair_address = N_EOAS + contract
    swap = log_kind == SWAP
    transfer_in = swap & (position == 0)
    transfer_out = swap & (position == 1)
    swap_event = swap & (position == 2)
    address = np.select(
        [transfer_in, transfer_out, swap_event],
        [N_EOAS + token_in, N_EOAS + token_out, pair_address],
        N_EOAS + np.maximum(contract, 0),
    )
    topic0 = np.select(
        [log_kind == ERC20_APPROVE, swap_event], [TOPIC0_APPROVAL, TOPIC0_SWAP], TOPIC0_TRANSFER
    )
    topic1 = np.select([transfer_out], [pair_address], sender)
    topic2 = np.select(
        [log_kind == ERC20_APPROVE, transfer_in, swap_event],
        [np.full(len(tx), N_EOAS + ROUTER_ID), pair_address, sender],
        recipient,
    )
    topic2 = np.where(transfer_out | swap_event, sender, topic2)
    nft = log_kind == NFT_TRANSFER
    data, data_words = _log_data(content, tx, direction, nft, transfer_out, swap_event)
    block = content.tx_block[tx]
    log_index = rank_within(np.bincount(block, minlength=len(content.tx_count)))
    return Logs(
        per_tx=per_tx,
        tx=tx,
        block=block,
        log_index=log_index.astype(np.uint32),
        address=address,
        topic0=topic0,
        topic1=topic1,
        topic2=topic2,
        nft=nft,
        token_id=content.nft_token_id[tx],
        swap_event=swap_event,
        event_kind=np.select([log_kind == ERC20_APPROVE, nft, swap_event], [1, 2, 3], 0),
        data=data,
        data_words=data_words,
    )


def _log_data(content, tx, direction, nft, transfer_out, swap_event):
    """Data words: the amount of a Transfer/Approval (the amount out for a swap's outgoing
    Transfer); a Swap's amount0In, amount1In, amount0Out, amount1Out; nothing for ERC-721."""
    n = len(tx)
    data_words = np.select([nft, swap_event], [0, 4], 1)
    data = np.zeros((n, 4, 32), np.uint8)
    amount = uint256_words(content.amount_lo[tx], content.amount_hi[tx], content.unlimited[tx])
    amount_out = uint256_words(content.amount_out_lo[tx], content.amount_out_hi[tx])
    single = ~nft & ~swap_event
    data[single & ~transfer_out, 0] = amount[single & ~transfer_out]
    data[transfer_out, 0] = amount_out[transfer_out]
    sells_token0 = swap_event & (direction == 0)
    data[sells_token0, 0], data[sells_token0, 3] = amount[sells_token0], amount_out[sells_token0]
    sells_token1 = swap_event & (direction == 1)
    data[sells_token1, 1], data[sells_token1, 2] = amount[sells_token1], amount_out[sells_token1]
    return data, data_words


def logs_bloom(content: ChainContent, book: AddressBook, logs: Logs) -> np.ndarray:
    """Each block's 2048-bit logs bloom: 3 bits for the address and for each topic of a log."""
    bits = np.zeros((len(content.tx_count), 2048), bool)
    for positions in (
        book.address_bits[logs.address],
        book.topic0_bits[logs.topic0],
        book.topic_bits[logs.topic1],
        book.topic_bits[logs.topic2],
    ):
        bits[logs.block[:, None], positions] = True
    if logs.nft.any():
        bits[logs.block[logs.nft][:, None], book.token_id_bits[logs.token_id[logs.nft]]] = True
    return np.packbits(bits[:, ::-1], axis=1, bitorder="big")


def logs_table(
    content: ChainContent, book: AddressBook, logs: Logs, hashes: np.ndarray, block_times
) -> pa.Table:
    addresses = book.addresses
    n = len(logs.tx)
    numbers = pa.array(block_numbers(content)[logs.block])
    return pa.table(
        {
            "_block_num": numbers,
            "block_hash": fixed_binary(hashes[logs.block], 32),
            "block_num": numbers,
            "timestamp": timestamps(block_times[logs.block]),
            "tx_hash": fixed_binary(content.tx_hash[logs.tx], 32),
            "tx_index": pa.array(content.tx_index[logs.tx], pa.uint32()),
            "log_index": pa.array(logs.log_index),
            "address": fixed_binary(addresses[logs.address], 20),
            "topic0": fixed_binary(TOPIC0_WORDS[logs.topic0], 32),
            "topic1": fixed_binary(address_words(addresses[logs.topic1]), 32),
            "topic2": fixed_binary(address_words(addresses[logs.topic2]), 32),
            "topic3": fixed_binary(uint256_words(logs.token_id.astype(np.uint64)), 32, logs.nft),
            "data": binary(logs.data.reshape(n, 128), logs.data_words * 32),
        },
        schema=RAW_SCHEMAS["evm-rpc"]["logs"],
    )


def log_events(content: ChainContent, book: AddressBook, logs: Logs) -> dict[str, np.ndarray]:
    """The logs as plain columns, for `truth.decoded_events`."""
    addresses = book.addresses
    return {
        "block_num": block_numbers(content)[logs.block],
        "log_index": logs.log_index,
        "tx_hash": content.tx_hash[logs.tx],
        "address": addresses[logs.address],
        "kind": logs.event_kind,
        "t1": addresses[logs.topic1],
        "t2": addresses[logs.topic2],
        "token_id": logs.token_id,
        "data": logs.data,
        "ndw": logs.data_words,
    }
