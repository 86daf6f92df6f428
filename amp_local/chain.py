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

Following (`ChainFollower`, `amp-local`/`python -m amp_local.chain --follow`): appends blocks after the
head, one new parquet file per table per append, each written to a temporary name that does not end in
`.parquet` and then `os.replace`d, so a reader listing `*.parquet` never sees a partial file. Appended
blocks have exactly the content and hashes a longer `generate_chain` would have produced (hashes do not
cover the timestamp); only their timestamps differ: `max(previous + 1 s, now)`, so freshness can be
measured against the wall clock. The historic part stays fully deterministic. Tables are written one
after the other and `chain.json` last, so `read_chain_info(out_dir).head` is a block every table has.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from eth_hash.auto import keccak

from amp_local.schemas import RAW_SCHEMAS, TIMESTAMP, raw_manifest

log = logging.getLogger("amp_local.chain")

__all__ = [
    "CONTRACTS",
    "EPOCH_BLOCKS",
    "GENESIS_TIMESTAMP",
    "TOKENS",
    "ChainFollower",
    "ChainInfo",
    "ChainSpec",
    "DecodedEvent",
    "Transfer",
    "decoded_events",
    "erc20_transfers",
    "generate_chain",
    "read_chain_info",
]

GENERATOR_VERSION = 1
GENESIS_TIMESTAMP = 1_717_200_000  # 2024-06-01T00:00:00Z, timestamp of block `start_block`
BLOCK_TIME = 12
EPOCH_BLOCKS = 1000  # randomness is drawn per aligned epoch of this many blocks
FIREHOSE_DATASET = "eth_firehose"
RPC_DATASET = "eth_rpc"
CHAIN_META = "chain.json"
CHAIN_IDS = {
    "mainnet": 1,
    "sepolia": 11155111,
    "holesky": 17000,
    "base": 8453,
    "arbitrum-one": 42161,
}

_NS = 1_000_000_000
_GWEI = 1_000_000_000
_U64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_EMPTY_OMMERS = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")


def _selector(sig: str) -> bytes:
    return keccak(sig.encode())[:4]


def _topic(sig: str) -> bytes:
    return keccak(sig.encode())


SEL_TRANSFER = _selector("transfer(address,uint256)")  # a9059cbb
SEL_APPROVE = _selector("approve(address,uint256)")  # 095ea7b3
SEL_TRANSFER_FROM = _selector("transferFrom(address,address,uint256)")  # 23b872dd
SEL_SWAP = _selector("swap(uint256,uint256,address,bytes)")  # 022c0d9f
TOPIC_TRANSFER = _topic("Transfer(address,address,uint256)")
TOPIC_APPROVAL = _topic("Approval(address,address,uint256)")
TOPIC_SWAP = _topic("Swap(address,uint256,uint256,uint256,uint256,address)")
_TOPIC0 = np.frombuffer(TOPIC_TRANSFER + TOPIC_APPROVAL + TOPIC_SWAP, np.uint8).reshape(3, 32)
_T0_TRANSFER, _T0_APPROVAL, _T0_SWAP = 0, 1, 2


# --------------------------------------------------------------------------------------------------
# Fixed contracts
# --------------------------------------------------------------------------------------------------


class Contract(NamedTuple):
    symbol: str
    kind: str  # "erc20" | "erc721" | "pair" | "router"
    address: bytes
    decimals: int | None = None
    token0: str | None = None  # pairs only
    token1: str | None = None


def _contract_address(symbol: str) -> bytes:
    return keccak(f"amp-local:{symbol}".encode())[12:]


def _build_contracts() -> tuple[Contract, ...]:
    out = [
        Contract(sym, "erc20", _contract_address(sym), dec)
        for sym, dec in (("USDC", 6), ("USDT", 6), ("WETH", 18), ("DAI", 18), ("GRT", 18))
    ]
    out += [Contract(sym, "erc721", _contract_address(sym)) for sym in ("APES", "PUNKS")]
    by_sym = {c.symbol: c for c in out}
    for a, b in (("WETH", "USDC"), ("WETH", "DAI"), ("GRT", "WETH")):
        t0, t1 = sorted((a, b), key=lambda s: by_sym[s].address)
        sym = f"UNI-V2 {a}/{b}"
        out.append(Contract(sym, "pair", _contract_address(sym), 18, t0, t1))
    out.append(Contract("ROUTER", "router", _contract_address("ROUTER")))
    return tuple(out)


CONTRACTS: tuple[Contract, ...] = _build_contracts()
TOKENS: tuple[Contract, ...] = tuple(c for c in CONTRACTS if c.kind == "erc20")
_C_IDX = {c.symbol: i for i, c in enumerate(CONTRACTS)}
_ERC20_IDS = np.array([_C_IDX[c.symbol] for c in TOKENS])
_ERC20_DECIMALS = np.array([c.decimals for c in CONTRACTS if c.kind == "erc20"])
_ERC20_WEIGHTS = np.array([0.30, 0.25, 0.25, 0.12, 0.08])
_NFT_IDS = np.array([i for i, c in enumerate(CONTRACTS) if c.kind == "erc721"])
_PAIR_IDS = np.array([i for i, c in enumerate(CONTRACTS) if c.kind == "pair"])
_PAIR_T0 = np.array([_C_IDX[CONTRACTS[i].token0] for i in _PAIR_IDS])
_PAIR_T1 = np.array([_C_IDX[CONTRACTS[i].token1] for i in _PAIR_IDS])
_ROUTER_ID = _C_IDX["ROUTER"]
_DECIMALS_BY_CID = np.array([c.decimals or 0 for c in CONTRACTS])

N_EOAS = 4000  # externally owned accounts per seed
N_MINERS = 12
N_TOKEN_IDS = 10_000  # ERC-721 token ids are drawn from [0, N_TOKEN_IDS)

# tx kinds
K_ETH, K_ERC20, K_APPROVE, K_NFT, K_SWAP, K_DEPLOY = range(6)
_KIND_P = np.array([0.30, 0.33, 0.08, 0.07, 0.20, 0.02])
_KIND_GAS = {  # (min, max) gas used when successful
    K_ETH: (21_000, 21_001),
    K_ERC20: (34_000, 65_000),
    K_APPROVE: (44_000, 47_000),
    K_NFT: (55_000, 95_000),
    K_SWAP: (95_000, 185_000),
    K_DEPLOY: (400_000, 1_500_000),
}


def _bloom_bits(item: bytes) -> tuple[int, int, int]:
    h = keccak(item)
    return tuple(((h[i] << 8) | h[i + 1]) & 2047 for i in (0, 2, 4))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------
# Spec, metadata
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainSpec:
    """Everything the content of the chain depends on (plus file layout)."""

    blocks: int = 20_000
    seed: int = 0
    network: str = "mainnet"
    start_block: int = 0
    tx_per_block: float = 8.0
    blocks_per_file: int = 10_000

    def identity(self) -> dict:
        d = asdict(self)
        d.pop("blocks_per_file")
        d["version"] = GENERATOR_VERSION
        return d

    @property
    def chain_id(self) -> int:
        return CHAIN_IDS.get(self.network, 1337)


@dataclass
class ChainInfo:
    """What `generate_chain` wrote (also persisted as `<out_dir>/chain.json`)."""

    out_dir: Path
    spec: ChainSpec
    head: int  # last block written (inclusive)
    head_hash: bytes
    head_timestamp: int  # seconds
    reused: bool = False
    datasets: dict[str, Path] = field(default_factory=dict)

    @property
    def start_block(self) -> int:
        return self.spec.start_block

    def to_json(self) -> dict:
        return {
            "spec": asdict(self.spec),
            "version": GENERATOR_VERSION,
            "head": self.head,
            "head_hash": "0x" + self.head_hash.hex(),
            "head_timestamp": self.head_timestamp,
            "datasets": {k: v.name for k, v in self.datasets.items()},
            "complete": True,
        }


def read_chain_info(out_dir: str | Path) -> ChainInfo | None:
    """The `chain.json` of a generated chain, or None if absent / incomplete / unreadable."""
    out_dir = Path(out_dir)
    try:
        meta = json.loads((out_dir / CHAIN_META).read_text())
        if not meta.get("complete") or meta.get("version") != GENERATOR_VERSION:
            return None
        return ChainInfo(
            out_dir=out_dir,
            spec=ChainSpec(**meta["spec"]),
            head=int(meta["head"]),
            head_hash=bytes.fromhex(meta["head_hash"][2:]),
            head_timestamp=int(meta["head_timestamp"]),
            datasets={k: out_dir / v for k, v in meta["datasets"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# Vectorized encoding helpers
# --------------------------------------------------------------------------------------------------


def _mul_u64(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full 128-bit product of two uint64 arrays → (lo, hi) uint64 limbs."""
    m32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    a = a.astype(np.uint64)
    b = b.astype(np.uint64)
    a_lo, a_hi = a & m32, a >> s32
    b_lo, b_hi = b & m32, b >> s32
    ll, lh, hl, hh = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (ll >> s32) + (lh & m32) + (hl & m32)
    lo = (ll & m32) | ((mid & m32) << s32)
    hi = hh + (lh >> s32) + (hl >> s32) + (mid >> s32)
    return lo, hi


def _u64_be(x: np.ndarray) -> np.ndarray:
    return x.astype(">u8").view(np.uint8).reshape(-1, 8)


def _words(
    lo: np.ndarray, hi: np.ndarray | None = None, top: np.ndarray | None = None
) -> np.ndarray:
    """uint256 ABI words (n, 32) from 128-bit limbs; rows where `top` is set are 2**256-1."""
    n = len(lo)
    w = np.zeros((n, 32), np.uint8)
    if hi is not None:
        w[:, 16:24] = _u64_be(hi)
    w[:, 24:32] = _u64_be(lo)
    if top is not None:
        w[top] = 0xFF
    return w


def _addr_words(addrs: np.ndarray) -> np.ndarray:
    w = np.zeros((len(addrs), 32), np.uint8)
    w[:, 12:] = addrs
    return w


def _fsb(mat: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n = mat.shape[0]
    bufs = [None, pa.py_buffer(mat.tobytes())]
    nulls = 0
    if valid is not None and not valid.all():
        bufs[0] = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
        nulls = int(n - valid.sum())
    return pa.Array.from_buffers(pa.binary(width), n, bufs, null_count=nulls)


def _binary(mat: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Variable-length binary array from row-prefixes `mat[i, :lengths[i]]`."""
    lengths = lengths.astype(np.int64)
    if mat.shape[1]:
        data = mat[np.arange(mat.shape[1])[None, :] < lengths[:, None]]
    else:
        data = np.zeros(0, np.uint8)
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())]
    )


def _const_binary(value: bytes, n: int) -> pa.Array:
    mat = np.tile(np.frombuffer(value, np.uint8), (n, 1)) if value else np.zeros((n, 0), np.uint8)
    return _binary(mat, np.full(n, len(value)))


def _dec128(
    lo: np.ndarray, hi: np.ndarray | None = None, valid: np.ndarray | None = None
) -> pa.Array:
    n = len(lo)
    hi = np.zeros(n, np.uint64) if hi is None else hi
    buf = np.empty((n, 2), "<u8")
    buf[:, 0] = lo
    buf[:, 1] = hi
    bufs = [None, pa.py_buffer(buf.tobytes())]
    nulls = 0
    if valid is not None and not valid.all():
        bufs[0] = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
        nulls = int(n - valid.sum())
    return pa.Array.from_buffers(pa.decimal128(38, 0), n, bufs, null_count=nulls)


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * _NS, type=pa.int64()).view(TIMESTAMP)


_ZEROS = pa.array(["0" * k for k in range(40)])


def _decimal_strings(mantissa: np.ndarray, exp: np.ndarray) -> pa.Array:
    """Decimal strings of mantissa * 10**exp (mantissa 0 → "0")."""
    exp = np.where(mantissa == 0, 0, exp)
    return pc.binary_join_element_wise(
        pc.cast(pa.array(mantissa.astype(np.uint64)), pa.string()), _ZEROS.take(pa.array(exp)), ""
    )


def _cumcount(groups: np.ndarray) -> np.ndarray:
    """Occurrence number of each element within its group (stable, in array order)."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    start = np.r_[True, g[1:] != g[:-1]]
    idx = np.arange(n)
    first = np.maximum.accumulate(np.where(start, idx, 0))
    out = np.empty(n, np.int64)
    out[order] = idx - first
    return out


def _rank_within(counts: np.ndarray) -> np.ndarray:
    """For `np.repeat(arange(len(counts)), counts)`: position of each element within its group."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total) - np.repeat(starts, counts)


# --------------------------------------------------------------------------------------------------
# Per-seed pools
# --------------------------------------------------------------------------------------------------


class _Pools:
    """Addresses and bloom bit positions; unified address ids: EOAs first, then CONTRACTS."""

    _cache: dict[tuple[int, str], _Pools] = {}

    def __init__(self, seed: int, network: str):
        eoas = [keccak(f"amp-local:eoa:{seed}:{network}:{i}".encode())[12:] for i in range(N_EOAS)]
        addrs = eoas + [c.address for c in CONTRACTS]
        self.addr = np.frombuffer(b"".join(addrs), np.uint8).reshape(-1, 20)
        self.addr_bits = np.array([_bloom_bits(a) for a in addrs])  # as a log address
        self.topic_bits = np.array([_bloom_bits(bytes(12) + a) for a in addrs])  # as a topic
        self.topic0_bits = np.array([_bloom_bits(bytes(t)) for t in _TOPIC0])
        self.tokenid_bits = np.array(
            [_bloom_bits(i.to_bytes(32, "big")) for i in range(N_TOKEN_IDS)]
        )
        self.miners = np.frombuffer(
            b"".join(keccak(f"amp-local:builder:{i}".encode())[12:] for i in range(N_MINERS)),
            np.uint8,
        ).reshape(-1, 20)

    @classmethod
    def get(cls, seed: int, network: str) -> _Pools:
        key = (seed, network)
        if key not in cls._cache:
            cls._cache[key] = cls(seed, network)
        return cls._cache[key]


def _genesis_parent(spec: ChainSpec) -> bytes:
    """Parent hash of the first block: the zero hash for a genesis block (as Amp sends it in
    `prev_hash`), else a deterministic stand-in for the unknown earlier chain."""
    if spec.start_block == 0:
        return bytes(32)
    return keccak(f"amp-local:parent:{spec.seed}:{spec.network}:{spec.start_block}".encode())


def _epoch_rng(spec: ChainSpec, epoch: int) -> np.random.Generator:
    return np.random.default_rng(
        [spec.seed & 0xFFFFFFFF, zlib.crc32(spec.network.encode()), epoch]
    )


# --------------------------------------------------------------------------------------------------
# One epoch of chain content (everything except hashes and timestamps)
# --------------------------------------------------------------------------------------------------


@dataclass
class _Segment:
    """Chain content for blocks [first, last], as numpy columns."""

    first: int
    last: int
    # blocks
    ntx: np.ndarray
    miner: np.ndarray
    state_root: np.ndarray
    tx_root: np.ndarray
    receipt_root: np.ndarray
    mix_hash: np.ndarray
    withdrawals_root: np.ndarray
    beacon_root: np.ndarray
    base_fee: np.ndarray
    # transactions (block-relative index `tx_blk`)
    tx_blk: np.ndarray
    tx_index: np.ndarray
    kind: np.ndarray
    ok: np.ndarray
    frm: np.ndarray  # unified address id
    to: np.ndarray  # unified address id, -1 for contract creation
    rcpt: np.ndarray  # EOA id (recipient of tokens / ETH)
    token: np.ndarray  # contract id (erc20 / erc721 / pair)
    token_id: np.ndarray
    direction: np.ndarray
    amt_lo: np.ndarray
    amt_hi: np.ndarray
    out_lo: np.ndarray
    out_hi: np.ndarray
    unlimited: np.ndarray
    eth_m: np.ndarray
    eth_e: np.ndarray
    tx_hash: np.ndarray
    r: np.ndarray
    s: np.ndarray
    v_parity: np.ndarray
    tx_type: np.ndarray
    nonce: np.ndarray
    gas_used: np.ndarray
    gas_limit: np.ndarray
    prio_fee: np.ndarray
    created: np.ndarray  # (T, 20) address of created contract

    def slice(self, first: int, last: int) -> _Segment:
        b0, b1 = first - self.first, last - self.first + 1
        starts = np.r_[0, np.cumsum(self.ntx)]
        t0, t1 = starts[b0], starts[b1]
        out = {}
        for name, val in self.__dict__.items():
            if name in ("first", "last"):
                continue
            if name in _BLOCK_COLS:
                out[name] = val[b0:b1]
            else:
                out[name] = val[t0:t1]
        out["tx_blk"] = out["tx_blk"] - b0
        return _Segment(first=first, last=last, **out)


_BLOCK_COLS = {
    "ntx",
    "miner",
    "state_root",
    "tx_root",
    "receipt_root",
    "mix_hash",
    "withdrawals_root",
    "beacon_root",
    "base_fee",
}


def _amounts(rng: np.random.Generator, decimals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token amounts mantissa * 10**k with k around the token's decimals → 128-bit limbs."""
    n = len(decimals)
    m = rng.integers(1, 1_000_000, n, dtype=np.uint64)
    k = np.clip(decimals + rng.integers(-4, 3, n), 0, 19)
    return _mul_u64(m, (np.uint64(10) ** k.astype(np.uint64)))


def _epoch(spec: ChainSpec, epoch: int) -> _Segment:
    """Chain content of the aligned epoch `epoch` (blocks epoch*EPOCH_BLOCKS … +EPOCH_BLOCKS-1)."""
    rng = _epoch_rng(spec, epoch)
    e = EPOCH_BLOCKS
    first = epoch * e
    bn = np.arange(first, first + e)
    # blocks
    lam = spec.tx_per_block * (0.4 + 1.2 * rng.random(e))
    ntx = rng.poisson(lam).astype(np.int64)
    miner = rng.integers(0, N_MINERS, e)
    roots = rng.integers(0, 256, (6, e, 32), dtype=np.uint8)
    base_fee = (
        (12 + 6 * np.sin(bn / 700.0) + 3 * np.sin(bn / 53.0)) * _GWEI + rng.integers(0, _GWEI, e)
    ).astype(np.uint64)
    # transactions
    t = int(ntx.sum())
    tx_blk = np.repeat(np.arange(e), ntx)
    tx_index = _rank_within(ntx).astype(np.uint32)
    kind = rng.choice(6, t, p=_KIND_P)
    ok = (rng.random(t) >= 0.03) | (kind == K_ETH)
    frm = (N_EOAS * rng.random(t) ** 1.6).astype(np.int64)
    rcpt = rng.integers(0, N_EOAS, t)
    erc20 = _ERC20_IDS[rng.choice(len(_ERC20_IDS), t, p=_ERC20_WEIGHTS)]
    nft = _NFT_IDS[rng.integers(0, len(_NFT_IDS), t)]
    pair_i = rng.integers(0, len(_PAIR_IDS), t)
    direction = rng.integers(0, 2, t)
    token_id = rng.integers(0, N_TOKEN_IDS, t)
    unlimited = rng.random(t) < 0.30
    eth_m = rng.integers(1, 1_000_000, t, dtype=np.uint64)
    eth_e = rng.integers(10, 16, t)
    tx_hash, r, s = rng.integers(0, 256, (3, t, 32), dtype=np.uint8)
    v_parity = rng.random(t) < 0.5
    legacy = rng.random(t) < 0.12
    prio_fee = (rng.choice([0.01, 0.05, 0.1, 1.0, 2.0], t) * _GWEI).astype(np.uint64)
    gas_u = rng.random(t)
    gas_headroom = 1.15 + 0.5 * rng.random(t)
    created = rng.integers(0, 256, (t, 20), dtype=np.uint8)

    token = np.select(
        [kind == K_ERC20, kind == K_APPROVE, kind == K_NFT, kind == K_SWAP],
        [erc20, erc20, nft, _PAIR_IDS[pair_i]],
        -1,
    )
    to = np.select(
        [kind == K_ETH, kind == K_DEPLOY], [rcpt, np.full(t, -1)], N_EOAS + np.maximum(token, 0)
    )
    # swap: token in/out of the pair
    tin = np.where(direction == 0, _PAIR_T0[pair_i], _PAIR_T1[pair_i])
    tout = np.where(direction == 0, _PAIR_T1[pair_i], _PAIR_T0[pair_i])
    amt_dec = np.where(
        kind == K_SWAP, _DECIMALS_BY_CID[tin], _DECIMALS_BY_CID[np.maximum(token, 0)]
    )
    amt_lo, amt_hi = _amounts(rng, amt_dec)
    out_lo, out_hi = _amounts(rng, _DECIMALS_BY_CID[tout])

    gmin = np.array([_KIND_GAS[k][0] for k in range(6)])
    gmax = np.array([_KIND_GAS[k][1] for k in range(6)])
    gas_used = (gmin[kind] + gas_u * (gmax[kind] - gmin[kind])).astype(np.int64)
    gas_used = np.where(ok, gas_used, 21_000 + (gas_u * 9_000).astype(np.int64))
    gas_limit = (np.ceil(gmax[kind] * gas_headroom / 1000) * 1000).astype(np.int64)
    gas_limit = np.where(kind == K_ETH, 21_000, np.maximum(gas_limit, gas_used))

    # nonces: strictly increasing per sender (gaps between epochs)
    nonce = (epoch * 65_536 + _cumcount(frm)).astype(np.uint64)
    tx_type = np.where(legacy, 0, 2).astype(np.int32)

    return _Segment(
        first=first,
        last=first + e - 1,
        ntx=ntx,
        miner=miner,
        state_root=roots[0],
        tx_root=roots[1],
        receipt_root=roots[2],
        mix_hash=roots[3],
        withdrawals_root=roots[4],
        beacon_root=roots[5],
        base_fee=base_fee,
        tx_blk=tx_blk,
        tx_index=tx_index,
        kind=kind,
        ok=ok,
        frm=frm,
        to=to,
        rcpt=rcpt,
        token=token,
        token_id=token_id,
        direction=direction,
        amt_lo=amt_lo,
        amt_hi=amt_hi,
        out_lo=out_lo,
        out_hi=out_hi,
        unlimited=unlimited & (kind == K_APPROVE),
        eth_m=np.where(kind == K_ETH, eth_m, 0).astype(np.uint64),
        eth_e=eth_e,
        tx_hash=tx_hash,
        r=r,
        s=s,
        v_parity=v_parity,
        tx_type=tx_type,
        nonce=nonce,
        gas_used=gas_used,
        gas_limit=gas_limit,
        prio_fee=prio_fee,
        created=created,
    )


def _concat_segments(segs: list[_Segment]) -> _Segment:
    if len(segs) == 1:
        return segs[0]
    out = {}
    offset = 0
    for name in segs[0].__dict__:
        if name in ("first", "last"):
            continue
        out[name] = np.concatenate([getattr(s, name) for s in segs])
    # re-base the block-relative tx index
    parts = []
    for s in segs:
        parts.append(s.tx_blk + offset)
        offset += len(s.ntx)
    out["tx_blk"] = np.concatenate(parts)
    return _Segment(first=segs[0].first, last=segs[-1].last, **out)


class _EpochCache:
    def __init__(self, spec: ChainSpec, size: int = 2):
        self.spec = spec
        self.size = size
        self._cache: dict[int, _Segment] = {}

    def segment(self, first: int, last: int) -> _Segment:
        parts = []
        for ep in range(first // EPOCH_BLOCKS, last // EPOCH_BLOCKS + 1):
            seg = self._cache.get(ep)
            if seg is None:
                seg = _epoch(self.spec, ep)
                if len(self._cache) >= self.size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[ep] = seg
            parts.append(seg.slice(max(first, seg.first), min(last, seg.last)))
        return _concat_segments(parts)


# --------------------------------------------------------------------------------------------------
# Building Arrow tables for a segment
# --------------------------------------------------------------------------------------------------


@dataclass
class _Built:
    first: int
    last: int
    hashes: np.ndarray  # (n, 32)
    parents: np.ndarray
    timestamps: np.ndarray  # seconds
    tables: dict[str, dict[str, pa.Table]]  # dataset -> table -> data
    events: dict[str, np.ndarray] | None = None


def _block_hashes(seg: _Segment, pools: _Pools, prev_hash: bytes) -> tuple[np.ndarray, np.ndarray]:
    n = len(seg.ntx)
    hashes = np.empty((n, 32), np.uint8)
    parents = np.empty((n, 32), np.uint8)
    miners = pools.miners[seg.miner]
    body = np.concatenate(
        [
            _u64_be(np.arange(seg.first, seg.last + 1, dtype=np.uint64)),
            seg.state_root,
            seg.tx_root,
            seg.receipt_root,
            miners,
        ],
        axis=1,
    )
    rows = [bytes(r) for r in body]
    parent = prev_hash
    out = bytearray()
    for row in rows:
        out += parent
        parent = keccak(parent + row)
    parents[:] = np.frombuffer(bytes(out), np.uint8).reshape(n, 32)
    hashes[:-1] = parents[1:]
    hashes[-1] = np.frombuffer(parent, np.uint8)
    return hashes, parents


def _build(spec: ChainSpec, seg: _Segment, prev_hash: bytes, timestamps: np.ndarray) -> _Built:
    pools = _Pools.get(spec.seed, spec.network)
    nb = len(seg.ntx)
    t = len(seg.kind)
    bn = np.arange(seg.first, seg.last + 1, dtype=np.uint64)
    hashes, parents = _block_hashes(seg, pools, prev_hash)
    kind, ok = seg.kind, seg.ok
    A = pools.addr

    # ---------------- logs ----------------
    nlogs = np.select([kind == K_SWAP, np.isin(kind, (K_ERC20, K_APPROVE, K_NFT))], [3, 1], 0)
    nlogs = np.where(ok, nlogs, 0)
    L = int(nlogs.sum())
    ltx = np.repeat(np.arange(t), nlogs)
    j = _rank_within(nlogs)
    lk = kind[ltx]
    pair_id = seg.token[ltx]
    d = seg.direction[ltx]
    pidx = np.searchsorted(_PAIR_IDS, np.where(lk == K_SWAP, pair_id, _PAIR_IDS[0]))
    tin = np.where(d == 0, _PAIR_T0[pidx], _PAIR_T1[pidx])
    tout = np.where(d == 0, _PAIR_T1[pidx], _PAIR_T0[pidx])
    frm, rcpt = seg.frm[ltx], seg.rcpt[ltx]
    pair_u = N_EOAS + pair_id
    is_swap = lk == K_SWAP
    s0, s1, s2 = is_swap & (j == 0), is_swap & (j == 1), is_swap & (j == 2)
    # unified address ids
    l_addr = np.select(
        [s0, s1, s2], [N_EOAS + tin, N_EOAS + tout, pair_u], N_EOAS + np.maximum(seg.token[ltx], 0)
    )
    l_t0 = np.select([lk == K_APPROVE, s2], [_T0_APPROVAL, _T0_SWAP], _T0_TRANSFER)
    l_t1 = np.select([s1], [pair_u], frm)
    l_t2 = np.select(
        [lk == K_APPROVE, s0, s2], [np.full(L, N_EOAS + _ROUTER_ID), pair_u, frm], rcpt
    )
    l_t2 = np.where(s1 | s2, frm, l_t2)
    is_nft = lk == K_NFT
    l_tokid = seg.token_id[ltx]
    amt_lo, amt_hi = seg.amt_lo[ltx], seg.amt_hi[ltx]
    out_lo, out_hi = seg.out_lo[ltx], seg.out_hi[ltx]
    # data words
    ndw = np.select([is_nft, s2], [0, 4], 1)
    data = np.zeros((L, 4, 32), np.uint8)
    w_amt = _words(amt_lo, amt_hi, seg.unlimited[ltx])
    w_out = _words(out_lo, out_hi)
    single = ~is_nft & ~s2
    data[single & ~s1, 0] = w_amt[single & ~s1]
    data[s1, 0] = w_out[s1]
    # Swap data: amount0In, amount1In, amount0Out, amount1Out
    m = s2 & (d == 0)
    data[m, 0], data[m, 3] = w_amt[m], w_out[m]
    m = s2 & (d == 1)
    data[m, 1], data[m, 2] = w_amt[m], w_out[m]
    l_blk = seg.tx_blk[ltx]
    log_index = _rank_within(np.bincount(l_blk, minlength=nb)).astype(np.uint32)

    # bloom: 3 bits for the address and for each topic
    bits = np.zeros((nb, 2048), bool)
    for col in (
        pools.addr_bits[l_addr],
        pools.topic0_bits[l_t0],
        pools.topic_bits[l_t1],
        pools.topic_bits[l_t2],
    ):
        bits[l_blk[:, None], col] = True
    if is_nft.any():
        bits[l_blk[is_nft][:, None], pools.tokenid_bits[l_tokid[is_nft]]] = True
    blooms = np.packbits(bits[:, ::-1], axis=1, bitorder="big")

    # ---------------- transactions ----------------
    tfrm = seg.frm
    trc = seg.rcpt
    inp = np.zeros((t, 4 + 5 * 32), np.uint8)
    inp_len = np.select(
        [np.isin(kind, (K_ERC20, K_APPROVE)), kind == K_NFT, kind == K_SWAP, kind == K_DEPLOY],
        [68, 100, 164, 64],
        0,
    )
    w_amt_t = _words(seg.amt_lo, seg.amt_hi, seg.unlimited)
    m = kind == K_ERC20
    inp[m, :4] = np.frombuffer(SEL_TRANSFER, np.uint8)
    inp[m, 16:36] = A[trc[m]]
    inp[m, 36:68] = w_amt_t[m]
    m = kind == K_APPROVE
    inp[m, :4] = np.frombuffer(SEL_APPROVE, np.uint8)
    inp[m, 16:36] = A[N_EOAS + _ROUTER_ID]
    inp[m, 36:68] = w_amt_t[m]
    m = kind == K_NFT
    inp[m, :4] = np.frombuffer(SEL_TRANSFER_FROM, np.uint8)
    inp[m, 16:36] = A[tfrm[m]]
    inp[m, 48:68] = A[trc[m]]
    inp[m, 68:100] = _words(seg.token_id[m].astype(np.uint64))
    m = kind == K_SWAP
    w_out_t = _words(seg.out_lo[m], seg.out_hi[m])
    dm = seg.direction[m]
    inp[m, :4] = np.frombuffer(SEL_SWAP, np.uint8)
    inp[m, 4:36] = np.where(dm[:, None] == 1, w_out_t, 0)  # amount0Out
    inp[m, 36:68] = np.where(dm[:, None] == 0, w_out_t, 0)  # amount1Out
    inp[m, 80:100] = A[tfrm[m]]
    inp[m, 131] = 0x80  # offset of `bytes data`; its length word (0) follows
    m = kind == K_DEPLOY
    inp[m, :5] = np.frombuffer(bytes.fromhex("6080604052"), np.uint8)
    inp[m, 5:64] = seg.tx_hash[m, :1].repeat(59, axis=1) ^ np.arange(59, dtype=np.uint8)

    tblk = seg.tx_blk
    base = seg.base_fee[tblk]
    eff = base + seg.prio_fee
    max_fee = 2 * base + seg.prio_fee
    legacy = seg.tx_type == 0
    to_valid = seg.to >= 0
    to_addr = A[np.maximum(seg.to, 0)]
    value_str = _decimal_strings(seg.eth_m, seg.eth_e)
    val_lo, val_hi = _mul_u64(seg.eth_m, np.uint64(10) ** seg.eth_e.astype(np.uint64))
    true_word = np.zeros((t, 32), np.uint8)
    true_word[:, 31] = 1
    ret_len = np.where(ok & np.isin(kind, (K_ERC20, K_APPROVE)), 32, 0)
    tx_ts = timestamps[tblk]
    tx_bhash = hashes[tblk]
    tx_bn = pa.array(bn[tblk])
    tx_block_cols = {
        "_block_num": tx_bn,
        "block_hash": _fsb(tx_bhash, 32),
        "block_num": tx_bn,
        "timestamp": _ts(tx_ts),
        "tx_index": pa.array(seg.tx_index, pa.uint32()),
        "tx_hash": _fsb(seg.tx_hash, 32),
        "to": _fsb(to_addr, 20, to_valid),
        "nonce": pa.array(seg.nonce, pa.uint64()),
    }
    input_arr = _binary(inp, inp_len)
    gas_used = pa.array(seg.gas_used.astype(np.uint64))
    gas_limit = pa.array(seg.gas_limit.astype(np.uint64))
    from_arr = _fsb(A[tfrm], 20)
    mf = _dec128(max_fee, valid=~legacy)
    mp = _dec128(seg.prio_fee, valid=~legacy)
    gas_price_legacy = _dec128(eff, valid=legacy)
    empty_lists = pa.ListArray.from_arrays(
        pa.array(np.zeros(t + 1, np.int32)),
        pa.array([], _ACCESS_LIST.value_type),
        type=_ACCESS_LIST,
        mask=pa.array(legacy),
    )

    rpc_tx = pa.table(
        {
            **tx_block_cols,
            "gas_price": gas_price_legacy,
            "gas_limit": gas_limit,
            "value": value_str,
            "input": input_arr,
            "r": _fsb(seg.r, 32),
            "s": _fsb(seg.s, 32),
            "v_parity": pa.array(seg.v_parity),
            "chain_id": pa.array(np.full(t, spec.chain_id, np.uint64)),
            "gas_used": gas_used,
            "type": pa.array(seg.tx_type),
            "max_fee_per_gas": mf,
            "max_priority_fee_per_gas": mp,
            "max_fee_per_blob_gas": pa.nulls(t, pa.decimal128(38, 0)),
            "from": from_arr,
            "status": pa.array(ok),
            "state_root": pa.nulls(t, pa.binary(32)),
            "access_list": empty_lists,
            "blob_versioned_hashes": pa.nulls(t, _RPC_TX.field("blob_versioned_hashes").type),
            "authorization_list": pa.nulls(t, _RPC_TX.field("authorization_list").type),
        },
        schema=_RPC_TX,
    )

    # firehose ordinals: per tx a span, block-global counter
    ncalls = 1 + (ok & (kind == K_SWAP)).astype(np.int64)
    span = 2 * ncalls + nlogs + 2
    cs = np.cumsum(span)
    blk_start = np.repeat(np.cumsum(seg.ntx) - seg.ntx, seg.ntx)
    end_ord = cs - np.where(blk_start > 0, cs[np.maximum(blk_start - 1, 0)], 0)
    begin_ord = end_ord - span + 1
    v_legacy = (
        np.where(seg.v_parity, 38, 37) if spec.chain_id == 1 else np.where(seg.v_parity, 1, 0)
    )
    vbyte = np.where(legacy, v_legacy, seg.v_parity.astype(np.int64)).astype(np.uint8)[:, None]
    fh_tx = pa.table(
        {
            **tx_block_cols,
            "gas_price": _dec128(eff),
            "gas_limit": gas_limit,
            "value": value_str,
            "input": input_arr,
            "v": _binary(vbyte, np.ones(t)),
            "r": _binary(seg.r, np.full(t, 32)),
            "s": _binary(seg.s, np.full(t, 32)),
            "gas_used": gas_used,
            "type": pa.array(seg.tx_type),
            "max_fee_per_gas": mf,
            "max_priority_fee_per_gas": mp,
            "from": from_arr,
            "status": pa.array(np.where(ok, 1, 3).astype(np.int32)),
            "return_data": _binary(true_word, ret_len),
            "public_key": _const_binary(b"", t),
            "begin_ordinal": pa.array(begin_ord.astype(np.uint64)),
            "end_ordinal": pa.array(end_ord.astype(np.uint64)),
        },
        schema=_FH_TX,
    )

    # ---------------- calls (firehose) ----------------
    C = int(ncalls.sum())
    ctx = np.repeat(np.arange(t), ncalls)
    ci = _rank_within(ncalls)
    child = ci == 1
    ck = kind[ctx]
    c_caller = np.where(child, N_EOAS + np.maximum(seg.token[ctx], 0), tfrm[ctx])
    c_addr = A[np.maximum(seg.to[ctx], 0)].copy()
    c_addr[ck == K_DEPLOY] = seg.created[ctx[ck == K_DEPLOY]]
    cd = seg.direction[ctx[child]]
    cp = np.searchsorted(_PAIR_IDS, seg.token[ctx[child]])
    c_tout = np.where(cd == 0, _PAIR_T1[cp], _PAIR_T0[cp])
    c_addr[child] = A[N_EOAS + c_tout]
    c_inp = np.zeros((C, inp.shape[1]), np.uint8)
    c_inp[~child] = inp[ctx[~child]]
    c_len = np.where(child, 68, inp_len[ctx])
    c_inp[child, :4] = np.frombuffer(SEL_TRANSFER, np.uint8)
    c_inp[child, 16:36] = A[tfrm[ctx[child]]]
    c_inp[child, 36:68] = _words(seg.out_lo[ctx[child]], seg.out_hi[ctx[child]])
    c_ret = np.where(child | (ret_len[ctx] > 0), 32, 0)
    c_gas_limit = np.maximum(seg.gas_limit[ctx] - 21_000 - 16 * inp_len[ctx], 0)
    c_gas_used = np.maximum(seg.gas_used[ctx] - 21_000, 0)
    c_gas_limit = np.where(child, c_gas_limit * 9 // 10, c_gas_limit)
    c_gas_used = np.where(child, c_gas_used // 4, c_gas_used)
    c_begin = begin_ord[ctx] + np.where(child, 2, 1)
    c_end = np.where(child, begin_ord[ctx] + 3, end_ord[ctx] - 1)
    c_true = np.zeros((C, 32), np.uint8)
    c_true[:, 31] = 1
    c_val_valid = (~child) & (seg.eth_m[ctx] > 0)
    c_bn = pa.array(bn[tblk[ctx]])
    calls = pa.table(
        {
            "_block_num": c_bn,
            "block_hash": _fsb(tx_bhash[ctx], 32),
            "block_num": c_bn,
            "timestamp": _ts(tx_ts[ctx]),
            "tx_index": pa.array(seg.tx_index[ctx], pa.uint32()),
            "tx_hash": _fsb(seg.tx_hash[ctx], 32),
            "index": pa.array((ci + 1).astype(np.uint32)),
            "parent_index": pa.array(ci.astype(np.uint32)),
            "depth": pa.array(ci.astype(np.uint32)),
            "call_type": pa.array(np.where(ck == K_DEPLOY, 5, 1).astype(np.int32)),
            "caller": _fsb(A[c_caller], 20),
            "address": _fsb(c_addr, 20),
            "value": _dec128(val_lo[ctx], val_hi[ctx], c_val_valid),
            "gas_limit": pa.array(c_gas_limit.astype(np.uint64)),
            "gas_consumed": pa.array(c_gas_used.astype(np.uint64)),
            "return_data": _binary(c_true, c_ret),
            "input": _binary(c_inp, c_len),
            "selfdestruct": pa.array(np.zeros(C, bool)),
            "executed_code": pa.array(ck != K_ETH),
            "begin_ordinal": pa.array(c_begin.astype(np.uint64)),
            "end_ordinal": pa.array(c_end.astype(np.uint64)),
        },
        schema=RAW_SCHEMAS["firehose"]["calls"],
    )

    # ---------------- logs table ----------------
    topics = np.zeros((4, L, 32), np.uint8)
    topics[0] = _TOPIC0[l_t0]
    topics[1] = _addr_words(A[l_t1])
    topics[2] = _addr_words(A[l_t2])
    topics[3] = _words(l_tokid.astype(np.uint64))
    l_bn = pa.array(bn[l_blk])
    logs = pa.table(
        {
            "_block_num": l_bn,
            "block_hash": _fsb(hashes[l_blk], 32),
            "block_num": l_bn,
            "timestamp": _ts(timestamps[l_blk]),
            "tx_hash": _fsb(seg.tx_hash[ltx], 32),
            "tx_index": pa.array(seg.tx_index[ltx], pa.uint32()),
            "log_index": pa.array(log_index),
            "address": _fsb(A[l_addr], 20),
            "topic0": _fsb(topics[0], 32),
            "topic1": _fsb(topics[1], 32),
            "topic2": _fsb(topics[2], 32),
            "topic3": _fsb(topics[3], 32, is_nft),
            "data": _binary(data.reshape(L, 128), ndw * 32),
        },
        schema=RAW_SCHEMAS["evm-rpc"]["logs"],
    )

    # ---------------- blocks table ----------------
    gas_per_block = np.bincount(tblk, weights=seg.gas_used, minlength=nb).astype(np.uint64)
    extra = np.frombuffer(
        b"".join(f"amp-local builder {i:02d}".encode() for i in range(N_MINERS)), np.uint8
    )
    extra = extra.reshape(N_MINERS, -1)[seg.miner]
    b_bn = pa.array(bn)
    blocks = pa.table(
        {
            "_block_num": b_bn,
            "block_num": b_bn,
            "timestamp": _ts(timestamps),
            "hash": _fsb(hashes, 32),
            "parent_hash": _fsb(parents, 32),
            "ommers_hash": _fsb(np.tile(np.frombuffer(_EMPTY_OMMERS, np.uint8), (nb, 1)), 32),
            "miner": _fsb(pools.miners[seg.miner], 20),
            "state_root": _fsb(seg.state_root, 32),
            "transactions_root": _fsb(seg.tx_root, 32),
            "receipt_root": _fsb(seg.receipt_root, 32),
            "logs_bloom": _binary(blooms, np.full(nb, 256)),
            "difficulty": _dec128(np.zeros(nb, np.uint64)),
            "total_difficulty": pa.nulls(nb, pa.decimal128(38, 0)),
            "gas_limit": pa.array(np.full(nb, 30_000_000, np.uint64)),
            "gas_used": pa.array(gas_per_block),
            "extra_data": _binary(extra, np.full(nb, extra.shape[1])),
            "mix_hash": _fsb(seg.mix_hash, 32),
            "nonce": pa.array(np.zeros(nb, np.uint64)),
            "base_fee_per_gas": _dec128(seg.base_fee),
            "withdrawals_root": _fsb(seg.withdrawals_root, 32),
            "blob_gas_used": pa.array(np.zeros(nb, np.uint64)),
            "excess_blob_gas": pa.array(np.zeros(nb, np.uint64)),
            "parent_beacon_root": _fsb(seg.beacon_root, 32),
            "requests_hash": pa.nulls(nb, pa.binary(32)),
        },
        schema=RAW_SCHEMAS["evm-rpc"]["blocks"],
    )

    events = {
        "block_num": bn[l_blk],
        "log_index": log_index,
        "tx_hash": seg.tx_hash[ltx],
        "address": A[l_addr],
        "kind": np.select([lk == K_APPROVE, is_nft, s2], [1, 2, 3], 0),
        "t1": A[l_t1],
        "t2": A[l_t2],
        "token_id": l_tokid,
        "data": data,
        "ndw": ndw,
    }
    return _Built(
        first=seg.first,
        last=seg.last,
        hashes=hashes,
        parents=parents,
        timestamps=timestamps,
        tables={
            FIREHOSE_DATASET: {
                "blocks": blocks,
                "transactions": fh_tx,
                "calls": calls,
                "logs": logs,
            },
            RPC_DATASET: {"blocks": blocks, "transactions": rpc_tx, "logs": logs},
        },
        events=events,
    )


_RPC_TX = RAW_SCHEMAS["evm-rpc"]["transactions"]
_FH_TX = RAW_SCHEMAS["firehose"]["transactions"]
_ACCESS_LIST = _RPC_TX.field("access_list").type


def _historic_timestamps(spec: ChainSpec, first: int, last: int) -> np.ndarray:
    return GENESIS_TIMESTAMP + BLOCK_TIME * (np.arange(first, last + 1) - spec.start_block)


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def _file_id(spec: ChainSpec, dataset: str, table: str, first: int, last: int) -> str:
    key = f"{spec.seed}:{spec.network}:{dataset}:{table}:{first}:{last}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _write_parquet(path: Path, table: pa.Table, meta: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")  # not ending in .parquet: invisible to readers
    with pq.ParquetWriter(tmp, table.schema, compression="zstd") as w:
        w.write_table(table, row_group_size=256 * 1024)
        w.add_key_value_metadata(
            {"generation": "0", "parent_file_ids": "[]", "nozzle_metadata": json.dumps(meta)}
        )
    os.replace(tmp, path)


def _write_built(
    spec: ChainSpec, out_dir: Path, built: _Built, created: float | None = None
) -> None:
    created = time.time() if created is None else created
    rng = {
        "numbers": {"start": built.first, "end": built.last},
        "network": spec.network,
        "hash": "0x" + bytes(built.hashes[-1]).hex(),
        "prev_hash": "0x" + bytes(built.parents[0]).hex(),
        "timestamp": int(built.timestamps[-1]),
    }
    for dataset, tables in built.tables.items():
        for name, table in tables.items():
            d = out_dir / dataset / name
            d.mkdir(parents=True, exist_ok=True)
            fname = f"{built.first:09d}-{_file_id(spec, dataset, name, built.first, built.last)}.parquet"
            meta = {
                "table": name,
                "filename": fname,
                "created_at": {"secs": int(created), "nanos": int((created % 1) * 1e9)},
                "ranges": [rng],
            }
            _write_parquet(d / fname, table, meta)


def _write_manifests(spec: ChainSpec, out_dir: Path) -> dict[str, Path]:
    out = {}
    for dataset, kind in ((FIREHOSE_DATASET, "firehose"), (RPC_DATASET, "evm-rpc")):
        d = out_dir / dataset
        d.mkdir(parents=True, exist_ok=True)
        manifest = raw_manifest(kind, spec.network, start_block=spec.start_block)
        _atomic_write_text(d / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        out[dataset] = d
    return out


def _iter_chunks(first: int, last: int, size: int) -> Iterator[tuple[int, int]]:
    a = first
    while a <= last:
        b = min(last, a + size - 1)
        yield a, b
        a = b + 1


def generate_chain(
    out_dir: str | Path,
    *,
    blocks: int = 20_000,
    seed: int = 0,
    network: str = "mainnet",
    start_block: int = 0,
    tx_per_block: float = 8.0,
    blocks_per_file: int = 10_000,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ChainInfo:
    """Write the `eth_firehose` and `eth_rpc` raw datasets of a synthetic chain under `out_dir`.

    Blocks `start_block … start_block+blocks-1`. If `<out_dir>/chain.json` says the same chain
    (blocks, seed, network, start_block, tx_per_block) is already complete there, nothing is written
    and the existing `ChainInfo` is returned with `reused=True` (its head may be further along if a
    follower appended blocks). Otherwise both dataset folders are rebuilt from scratch.
    """
    if blocks < 1:
        raise ValueError("blocks must be >= 1")
    out_dir = Path(out_dir)
    spec = ChainSpec(blocks, seed, network, start_block, float(tx_per_block), blocks_per_file)
    existing = read_chain_info(out_dir)
    if (
        not force
        and existing is not None
        and existing.spec.identity() == spec.identity()
        and existing.head >= start_block + blocks - 1
        and all((out_dir / d / "manifest.json").exists() for d in (FIREHOSE_DATASET, RPC_DATASET))
    ):
        existing.reused = True
        return existing

    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (out_dir / CHAIN_META).unlink()
    for d in (FIREHOSE_DATASET, RPC_DATASET):
        shutil.rmtree(out_dir / d, ignore_errors=True)
    datasets = _write_manifests(spec, out_dir)

    cache = _EpochCache(spec)
    last_block = start_block + blocks - 1
    prev_hash = _genesis_parent(spec)
    created = time.time()
    built = None
    for a, b in _iter_chunks(start_block, last_block, blocks_per_file):
        seg = cache.segment(a, b)
        built = _build(spec, seg, prev_hash, _historic_timestamps(spec, a, b))
        _write_built(spec, out_dir, built, created)
        prev_hash = bytes(built.hashes[-1])
        if progress:
            progress(b - start_block + 1, blocks)
    assert built is not None
    info = ChainInfo(
        out_dir=out_dir,
        spec=spec,
        head=last_block,
        head_hash=prev_hash,
        head_timestamp=int(built.timestamps[-1]),
        datasets=datasets,
    )
    _atomic_write_text(out_dir / CHAIN_META, json.dumps(info.to_json(), indent=2) + "\n")
    return info


# --------------------------------------------------------------------------------------------------
# Following the head
# --------------------------------------------------------------------------------------------------


class ChainFollower:
    """Appends blocks at the head of a chain written by `generate_chain`.

    `append_blocks(n)` writes blocks `head+1 … head+n` (one parquet file per table, atomically) and
    updates `chain.json`; returns `(first, last)`. `start()` does that every `interval_seconds` in a
    daemon thread (`blocks_per_tick` blocks each time) until `stop()`. New blocks get timestamps
    `max(previous + 1, now())` (whole seconds); content and hashes continue the deterministic chain.
    """

    def __init__(
        self,
        out_dir: str | Path,
        interval_seconds: float = 12.0,
        *,
        blocks_per_tick: int = 1,
        now: Callable[[], float] = time.time,
        on_append: Callable[[int, int], None] | None = None,
    ):
        self.out_dir = Path(out_dir)
        info = read_chain_info(self.out_dir)
        if info is None:
            raise FileNotFoundError(
                f"no generated chain in {self.out_dir} (run generate_chain first)"
            )
        self.info = info
        self.interval_seconds = interval_seconds
        self.blocks_per_tick = blocks_per_tick
        self.now = now
        self.on_append = on_append
        self._cache = _EpochCache(info.spec)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def head(self) -> int:
        return self.info.head

    def append_blocks(self, n: int = 1) -> tuple[int, int]:
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            info = self.info
            first, last = info.head + 1, info.head + n
            seg = self._cache.segment(first, last)
            now = int(self.now())
            i = np.arange(n)
            ts = np.maximum(info.head_timestamp + 1 + i, now - (n - 1 - i)).astype(np.int64)
            built = _build(info.spec, seg, info.head_hash, ts)
            _write_built(info.spec, self.out_dir, built)
            info.head = last
            info.head_hash = bytes(built.hashes[-1])
            info.head_timestamp = int(ts[-1])
            _atomic_write_text(
                self.out_dir / CHAIN_META, json.dumps(info.to_json(), indent=2) + "\n"
            )
        if self.on_append:
            self.on_append(first, last)
        return first, last

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.append_blocks(self.blocks_per_tick)
            except Exception as exc:  # surfaced via .error and the log; following stops
                self.error = exc
                log.error("chain follower stopped: %s", exc)
                return

    def start(self) -> ChainFollower:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="amp-chain-follower", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> ChainFollower:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------------
# Reading ranges and block info back
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------------


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


def _iter_events(spec: ChainSpec, first: int, last: int, head_hash: bytes | None = None):
    cache = _EpochCache(spec)
    for a, b in _iter_chunks(first, last, max(spec.blocks_per_file, 1)):
        seg = cache.segment(a, b)
        # hashes/timestamps are irrelevant to events: pass placeholders
        built = _build(spec, seg, bytes(32), _historic_timestamps(spec, a, b))
        ev = built.events
        words = ev["data"]
        for i in range(len(ev["block_num"])):
            k = int(ev["kind"][i])
            w = [int.from_bytes(bytes(words[i, j]), "big") for j in range(int(ev["ndw"][i]))]
            t1, t2 = bytes(ev["t1"][i]), bytes(ev["t2"][i])
            if k == 0:
                name, args = "Transfer", {"from": t1, "to": t2, "value": w[0]}
            elif k == 1:
                name, args = "Approval", {"owner": t1, "spender": t2, "value": w[0]}
            elif k == 2:
                name = "TransferERC721"
                args = {"from": t1, "to": t2, "tokenId": int(ev["token_id"][i])}
            else:
                name = "Swap"
                args = {
                    "sender": t1,
                    "amount0In": w[0],
                    "amount1In": w[1],
                    "amount0Out": w[2],
                    "amount1Out": w[3],
                    "to": t2,
                }
            yield DecodedEvent(
                int(ev["block_num"][i]),
                int(ev["log_index"][i]),
                bytes(ev["tx_hash"][i]),
                bytes(ev["address"][i]),
                name,
                args,
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
    return list(_iter_events(spec, first, last))


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


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m amp_local.chain", description=__doc__.split("\n")[0]
    )
    p.add_argument("out_dir", type=Path)
    p.add_argument("--blocks", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--network", default="mainnet")
    p.add_argument("--start-block", type=int, default=0)
    p.add_argument("--tx-per-block", type=float, default=8.0)
    p.add_argument("--force", action="store_true", help="regenerate even if the chain is there")
    p.add_argument("--follow", action="store_true", help="keep appending blocks at the head")
    p.add_argument("--interval", type=float, default=12.0, help="seconds between appended blocks")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    info = generate_chain(
        a.out_dir,
        blocks=a.blocks,
        seed=a.seed,
        network=a.network,
        start_block=a.start_block,
        tx_per_block=a.tx_per_block,
        force=a.force,
    )
    verb = "reused" if info.reused else f"generated in {time.perf_counter() - t0:.1f}s"
    print(f"chain {info.start_block}..{info.head} {verb} at {info.out_dir}")
    if a.follow:
        follower = ChainFollower(
            a.out_dir, a.interval, on_append=lambda f, last: print(f"appended block {last}")
        )
        follower.start()
        try:
            while True:
                time.sleep(1)
                if follower.error:
                    raise follower.error
        except KeyboardInterrupt:
            follower.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
