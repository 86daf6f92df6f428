"""Ground truth for tests: every event the generator wrote, recomputed from the spec alone (not read
back from the files), decoded."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from amp_local.chain.generate import EpochCache
from amp_local.chain.spec import ChainSpec, read_chain_info
from amp_local.chain.tables import build_range
from amp_local.chain.write import chunks, historic_timestamps

EVENT_NAMES = ("Transfer", "Approval", "TransferERC721", "Swap")  # by `Logs.event_kind`


class DecodedEvent(NamedTuple):
    block_num: int
    log_index: int
    tx_hash: bytes
    address: bytes
    event: str  # "Transfer" (ERC-20) | "Approval" | "TransferERC721" | "Swap"
    args: dict


class Transfer(NamedTuple):
    block_num: int
    log_index: int
    tx_hash: bytes
    token: bytes
    sender: bytes
    recipient: bytes
    value: int


def _event_args(kind: int, topic1: bytes, topic2: bytes, words: list[int], token_id: int) -> dict:
    if kind == 0:
        return {"from": topic1, "to": topic2, "value": words[0]}
    if kind == 1:
        return {"owner": topic1, "spender": topic2, "value": words[0]}
    if kind == 2:
        return {"from": topic1, "to": topic2, "tokenId": token_id}
    return {
        "sender": topic1,
        "amount0In": words[0],
        "amount1In": words[1],
        "amount0Out": words[2],
        "amount1Out": words[3],
        "to": topic2,
    }


def _events(spec: ChainSpec, first: int, last: int):
    cache = EpochCache(spec)
    for start, end in chunks(first, last, max(spec.blocks_per_file, 1)):
        content = cache.content(start, end)
        # hashes and timestamps do not matter to events: placeholders
        built = build_range(spec, content, bytes(32), historic_timestamps(spec, start, end))
        events = built.events
        data = events["data"]
        for i in range(len(events["block_num"])):
            kind = int(events["kind"][i])
            words = [
                int.from_bytes(bytes(data[i, j]), "big") for j in range(int(events["ndw"][i]))
            ]
            yield DecodedEvent(
                int(events["block_num"][i]),
                int(events["log_index"][i]),
                bytes(events["tx_hash"][i]),
                bytes(events["address"][i]),
                EVENT_NAMES[kind],
                _event_args(
                    kind,
                    bytes(events["t1"][i]),
                    bytes(events["t2"][i]),
                    words,
                    int(events["token_id"][i]),
                ),
            )


def _spec_range(
    out_dir: str | Path, start: int | None, end: int | None
) -> tuple[ChainSpec, int, int]:
    info = read_chain_info(out_dir)
    if info is None:
        raise FileNotFoundError(f"no generated chain in {out_dir}")
    first = info.spec.start_block if start is None else max(start, info.spec.start_block)
    last = info.head if end is None else min(end, info.head)
    return info.spec, first, last


def decoded_events(
    out_dir: str | Path, start: int | None = None, end: int | None = None
) -> list[DecodedEvent]:
    """Every log the generator wrote in blocks [start, end] (default: all), decoded, in log order."""
    spec, first, last = _spec_range(out_dir, start, end)
    if first > last:
        return []
    return list(_events(spec, first, last))


def erc20_transfers(
    out_dir: str | Path, start: int | None = None, end: int | None = None
) -> list[Transfer]:
    """ERC-20 `Transfer` logs written in blocks [start, end] (includes swap legs)."""
    return [
        Transfer(
            e.block_num,
            e.log_index,
            e.tx_hash,
            e.address,
            e.args["from"],
            e.args["to"],
            e.args["value"],
        )
        for e in decoded_events(out_dir, start, end)
        if e.event == "Transfer"
    ]
