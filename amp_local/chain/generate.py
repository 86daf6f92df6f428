"""The random content of the chain: per aligned epoch of `EPOCH_BLOCKS` blocks, from a generator
seeded with (seed, network, epoch) only, so any block range is reproducible on its own. Content is
everything but hashes and timestamps (`tables` adds those); it is held as numpy columns."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields

import numpy as np
from eth_hash.auto import keccak

from amp_local.chain.columns import bloom_bits, cumcount, mul_u64, rank_within
from amp_local.chain.contracts import (
    CONTRACTS,
    DECIMALS,
    DEPLOY,
    ERC20_APPROVE,
    ERC20_IDS,
    ERC20_TRANSFER,
    ERC20_WEIGHTS,
    ETH_TRANSFER,
    KIND_GAS,
    KIND_PROBABILITIES,
    N_EOAS,
    N_MINERS,
    N_TOKEN_IDS,
    NFT_IDS,
    NFT_TRANSFER,
    PAIR_IDS,
    PAIR_TOKEN0,
    PAIR_TOKEN1,
    SWAP,
    TOPIC0_WORDS,
)
from amp_local.chain.spec import EPOCH_BLOCKS, ChainSpec

GWEI = 1_000_000_000


class AddressBook:
    """The seed's addresses and their bloom bits. An address id indexes `addresses`: the EOAs
    first, then `CONTRACTS` (contract `i` is id `N_EOAS + i`)."""

    _cache: dict[tuple[int, str], AddressBook] = {}

    def __init__(self, seed: int, network: str):
        eoas = [keccak(f"amp-local:eoa:{seed}:{network}:{i}".encode())[12:] for i in range(N_EOAS)]
        every = eoas + [c.address for c in CONTRACTS]
        self.addresses = np.frombuffer(b"".join(every), np.uint8).reshape(-1, 20)
        self.address_bits = np.array([bloom_bits(a) for a in every])  # as a log address
        self.topic_bits = np.array([bloom_bits(bytes(12) + a) for a in every])  # as a topic
        self.topic0_bits = np.array([bloom_bits(bytes(t)) for t in TOPIC0_WORDS])
        self.token_id_bits = np.array(
            [bloom_bits(i.to_bytes(32, "big")) for i in range(N_TOKEN_IDS)]
        )
        self.miners = np.frombuffer(
            b"".join(keccak(f"amp-local:builder:{i}".encode())[12:] for i in range(N_MINERS)),
            np.uint8,
        ).reshape(-1, 20)

    @classmethod
    def of(cls, spec: ChainSpec) -> AddressBook:
        key = (spec.seed, spec.network)
        if key not in cls._cache:
            cls._cache[key] = cls(spec.seed, spec.network)
        return cls._cache[key]


@dataclass
class ChainContent:
    """Content of blocks [first, last]: block columns (one row per block) and transaction
    columns (one row per transaction, `tx_block` its block's position in the range)."""

    first: int
    last: int
    # blocks
    tx_count: np.ndarray
    miner: np.ndarray  # index into AddressBook.miners
    state_root: np.ndarray
    tx_root: np.ndarray
    receipt_root: np.ndarray
    mix_hash: np.ndarray
    withdrawals_root: np.ndarray
    beacon_root: np.ndarray
    base_fee: np.ndarray
    # transactions
    tx_block: np.ndarray
    tx_index: np.ndarray
    kind: np.ndarray  # ETH_TRANSFER … DEPLOY
    succeeded: np.ndarray
    sender: np.ndarray  # address id
    to: np.ndarray  # address id, -1 for a contract creation
    recipient: np.ndarray  # EOA id receiving tokens / ETH
    contract: np.ndarray  # contract index (erc20 / erc721 / pair), -1 if none
    nft_token_id: np.ndarray
    direction: np.ndarray  # swap: 0 sells token0 for token1, 1 the reverse
    amount_lo: np.ndarray  # token amount (swap: amount in), 128-bit limbs
    amount_hi: np.ndarray
    amount_out_lo: np.ndarray  # swap: amount out
    amount_out_hi: np.ndarray
    unlimited: np.ndarray  # approve of 2**256-1
    eth_mantissa: np.ndarray  # ETH value = mantissa * 10**exponent wei
    eth_exponent: np.ndarray
    tx_hash: np.ndarray
    r: np.ndarray
    s: np.ndarray
    v_parity: np.ndarray
    tx_type: np.ndarray
    nonce: np.ndarray
    gas_used: np.ndarray
    gas_limit: np.ndarray
    priority_fee: np.ndarray
    created: np.ndarray  # (T, 20) address of the created contract

    def slice(self, first: int, last: int) -> ChainContent:
        b0, b1 = first - self.first, last - self.first + 1
        starts = np.r_[0, np.cumsum(self.tx_count)]
        t0, t1 = starts[b0], starts[b1]
        out = {}
        for name in _COLUMNS:
            value = getattr(self, name)
            out[name] = value[b0:b1] if name in _BLOCK_COLUMNS else value[t0:t1]
        out["tx_block"] = out["tx_block"] - b0
        return ChainContent(first=first, last=last, **out)

    @staticmethod
    def concat(parts: list[ChainContent]) -> ChainContent:
        if len(parts) == 1:
            return parts[0]
        out = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _COLUMNS}
        offsets = np.cumsum([0] + [len(p.tx_count) for p in parts[:-1]])
        out["tx_block"] = np.concatenate(
            [p.tx_block + o for p, o in zip(parts, offsets, strict=True)]
        )
        return ChainContent(first=parts[0].first, last=parts[-1].last, **out)


_COLUMNS = [f.name for f in fields(ChainContent) if f.name not in ("first", "last")]
_BLOCK_COLUMNS = {
    "tx_count",
    "miner",
    "state_root",
    "tx_root",
    "receipt_root",
    "mix_hash",
    "withdrawals_root",
    "beacon_root",
    "base_fee",
}


def epoch_rng(spec: ChainSpec, epoch: int) -> np.random.Generator:
    return np.random.default_rng(
        [spec.seed & 0xFFFFFFFF, zlib.crc32(spec.network.encode()), epoch]
    )


def token_amounts(rng: np.random.Generator, decimals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token amounts mantissa * 10**k with k around the token's decimals → 128-bit limbs."""
    n = len(decimals)
    mantissa = rng.integers(1, 1_000_000, n, dtype=np.uint64)
    k = np.clip(decimals + rng.integers(-4, 3, n), 0, 19)
    return mul_u64(mantissa, (np.uint64(10) ** k.astype(np.uint64)))


def epoch_content(spec: ChainSpec, epoch: int) -> ChainContent:
    """Content of the aligned epoch `epoch` (blocks epoch*EPOCH_BLOCKS … +EPOCH_BLOCKS-1). The
    order of the draws from the epoch's generator is part of the output: keep it."""
    rng = epoch_rng(spec, epoch)
    first = epoch * EPOCH_BLOCKS
    blocks = _block_draws(rng, spec, first)
    txs = _transaction_draws(rng, blocks["tx_count"], epoch)
    return ChainContent(first=first, last=first + EPOCH_BLOCKS - 1, **blocks, **txs)


def _block_draws(rng: np.random.Generator, spec: ChainSpec, first: int) -> dict[str, np.ndarray]:
    n = EPOCH_BLOCKS
    numbers = np.arange(first, first + n)
    mean_txs = spec.tx_per_block * (0.4 + 1.2 * rng.random(n))
    tx_count = rng.poisson(mean_txs).astype(np.int64)
    miner = rng.integers(0, N_MINERS, n)
    roots = rng.integers(0, 256, (6, n, 32), dtype=np.uint8)
    waves = 12 + 6 * np.sin(numbers / 700.0) + 3 * np.sin(numbers / 53.0)
    base_fee = (waves * GWEI + rng.integers(0, GWEI, n)).astype(np.uint64)
    return {
        "tx_count": tx_count,
        "miner": miner,
        "state_root": roots[0],
        "tx_root": roots[1],
        "receipt_root": roots[2],
        "mix_hash": roots[3],
        "withdrawals_root": roots[4],
        "beacon_root": roots[5],
        "base_fee": base_fee,
    }


def _transaction_draws(
    rng: np.random.Generator, tx_count: np.ndarray, epoch: int
) -> dict[str, np.ndarray]:
    t = int(tx_count.sum())
    kind = rng.choice(6, t, p=KIND_PROBABILITIES)
    succeeded = (rng.random(t) >= 0.03) | (kind == ETH_TRANSFER)
    sender = (N_EOAS * rng.random(t) ** 1.6).astype(np.int64)  # some senders are much busier
    recipient = rng.integers(0, N_EOAS, t)
    erc20 = ERC20_IDS[rng.choice(len(ERC20_IDS), t, p=ERC20_WEIGHTS)]
    nft = NFT_IDS[rng.integers(0, len(NFT_IDS), t)]
    pair = rng.integers(0, len(PAIR_IDS), t)
    direction = rng.integers(0, 2, t)
    nft_token_id = rng.integers(0, N_TOKEN_IDS, t)
    unlimited = rng.random(t) < 0.30
    eth_mantissa = rng.integers(1, 1_000_000, t, dtype=np.uint64)
    eth_exponent = rng.integers(10, 16, t)
    tx_hash, r, s = rng.integers(0, 256, (3, t, 32), dtype=np.uint8)
    v_parity = rng.random(t) < 0.5
    legacy = rng.random(t) < 0.12
    priority_fee = (rng.choice([0.01, 0.05, 0.1, 1.0, 2.0], t) * GWEI).astype(np.uint64)
    gas_fraction = rng.random(t)
    gas_headroom = 1.15 + 0.5 * rng.random(t)
    created = rng.integers(0, 256, (t, 20), dtype=np.uint8)

    contract = np.select(
        [kind == ERC20_TRANSFER, kind == ERC20_APPROVE, kind == NFT_TRANSFER, kind == SWAP],
        [erc20, erc20, nft, PAIR_IDS[pair]],
        -1,
    )
    to = np.select(
        [kind == ETH_TRANSFER, kind == DEPLOY],
        [recipient, np.full(t, -1)],
        N_EOAS + np.maximum(contract, 0),
    )
    # a swap sends one token of the pair in and gets the other out
    token_in = np.where(direction == 0, PAIR_TOKEN0[pair], PAIR_TOKEN1[pair])
    token_out = np.where(direction == 0, PAIR_TOKEN1[pair], PAIR_TOKEN0[pair])
    amount_decimals = np.where(kind == SWAP, DECIMALS[token_in], DECIMALS[np.maximum(contract, 0)])
    amount_lo, amount_hi = token_amounts(rng, amount_decimals)
    amount_out_lo, amount_out_hi = token_amounts(rng, DECIMALS[token_out])

    gas_min = np.array([KIND_GAS[k][0] for k in range(6)])
    gas_max = np.array([KIND_GAS[k][1] for k in range(6)])
    gas_used = (gas_min[kind] + gas_fraction * (gas_max[kind] - gas_min[kind])).astype(np.int64)
    gas_used = np.where(succeeded, gas_used, 21_000 + (gas_fraction * 9_000).astype(np.int64))
    gas_limit = (np.ceil(gas_max[kind] * gas_headroom / 1000) * 1000).astype(np.int64)
    gas_limit = np.where(kind == ETH_TRANSFER, 21_000, np.maximum(gas_limit, gas_used))
    # nonces: strictly increasing per sender (gaps between epochs)
    nonce = (epoch * 65_536 + cumcount(sender)).astype(np.uint64)
    return {
        "tx_block": np.repeat(np.arange(EPOCH_BLOCKS), tx_count),
        "tx_index": rank_within(tx_count).astype(np.uint32),
        "kind": kind,
        "succeeded": succeeded,
        "sender": sender,
        "to": to,
        "recipient": recipient,
        "contract": contract,
        "nft_token_id": nft_token_id,
        "direction": direction,
        "amount_lo": amount_lo,
        "amount_hi": amount_hi,
        "amount_out_lo": amount_out_lo,
        "amount_out_hi": amount_out_hi,
        "unlimited": unlimited & (kind == ERC20_APPROVE),
        "eth_mantissa": np.where(kind == ETH_TRANSFER, eth_mantissa, 0).astype(np.uint64),
        "eth_exponent": eth_exponent,
        "tx_hash": tx_hash,
        "r": r,
        "s": s,
        "v_parity": v_parity,
        "tx_type": np.where(legacy, 0, 2).astype(np.int32),
        "nonce": nonce,
        "gas_used": gas_used,
        "gas_limit": gas_limit,
        "priority_fee": priority_fee,
        "created": created,
    }


class EpochCache:
    """Content of any block range, from the few most recently generated epochs."""

    def __init__(self, spec: ChainSpec, size: int = 2):
        self.spec = spec
        self.size = size
        self._epochs: dict[int, ChainContent] = {}

    def content(self, first: int, last: int) -> ChainContent:
        parts = []
        for epoch in range(first // EPOCH_BLOCKS, last // EPOCH_BLOCKS + 1):
            content = self._epochs.get(epoch)
            if content is None:
                content = epoch_content(self.spec, epoch)
                if len(self._epochs) >= self.size:
                    self._epochs.pop(next(iter(self._epochs)))
                self._epochs[epoch] = content
            parts.append(content.slice(max(first, content.first), min(last, content.last)))
        return ChainContent.concat(parts)
