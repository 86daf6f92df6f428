"""What a generated chain is: its spec (everything its content depends on), its constants, and the
`chain.json` that records what was written."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_hash.auto import keccak

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

    def genesis_parent(self) -> bytes:
        """Parent hash of the first block: the zero hash for a genesis block (as Amp sends it in
        `prev_hash`), else a deterministic stand-in for the unknown earlier chain."""
        if self.start_block == 0:
            return bytes(32)
        return keccak(f"amp-local:parent:{self.seed}:{self.network}:{self.start_block}".encode())


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

    def save(self) -> None:
        """Write `chain.json` (atomically: a reader sees the old or the new head)."""
        atomic_write_text(self.out_dir / CHAIN_META, json.dumps(self.to_json(), indent=2) + "\n")


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


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(text)
    os.replace(tmp, path)
