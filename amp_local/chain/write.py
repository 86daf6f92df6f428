"""Writing the chain as Amp raw datasets: one parquet file per table per block range, with Amp's
footer metadata, written under a temporary name and renamed so readers never see partial files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from amp_local.chain.generate import EpochCache
from amp_local.chain.spec import (
    BLOCK_TIME,
    CHAIN_META,
    FIREHOSE_DATASET,
    GENESIS_TIMESTAMP,
    RPC_DATASET,
    ChainInfo,
    ChainSpec,
    atomic_write_text,
    read_chain_info,
)
from amp_local.chain.tables import BuiltRange, build_range
from amp_local.schemas import raw_manifest

ROW_GROUP_ROWS = 256 * 1024


def historic_timestamps(spec: ChainSpec, first: int, last: int) -> np.ndarray:
    """Block times of a generated range: every `BLOCK_TIME` seconds from `GENESIS_TIMESTAMP`."""
    return GENESIS_TIMESTAMP + BLOCK_TIME * (np.arange(first, last + 1) - spec.start_block)


def file_id(spec: ChainSpec, dataset: str, table: str, first: int, last: int) -> str:
    key = f"{spec.seed}:{spec.network}:{dataset}:{table}:{first}:{last}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def write_parquet(path: Path, table: pa.Table, meta: dict) -> None:
    """ZSTD parquet with Amp's footer key/value metadata, made visible by an atomic rename."""
    tmp = path.with_name(f".{path.name}.tmp")  # not ending in .parquet: invisible to readers
    with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        writer.add_key_value_metadata(
            {"generation": "0", "parent_file_ids": "[]", "nozzle_metadata": json.dumps(meta)}
        )
    os.replace(tmp, path)


def write_range(
    spec: ChainSpec, out_dir: Path, built: BuiltRange, created: float | None = None
) -> None:
    """Every table of a built block range, each file carrying the range in Amp's
    `nozzle_metadata` (`hash` of its end block, `prev_hash` of its start block's parent)."""
    created = time.time() if created is None else created
    block_range = {
        "numbers": {"start": built.first, "end": built.last},
        "network": spec.network,
        "hash": "0x" + bytes(built.hashes[-1]).hex(),
        "prev_hash": "0x" + bytes(built.parents[0]).hex(),
        "timestamp": int(built.timestamps[-1]),
    }
    for dataset, tables in built.tables.items():
        for name, table in tables.items():
            folder = out_dir / dataset / name
            folder.mkdir(parents=True, exist_ok=True)
            filename = f"{built.first:09d}-{file_id(spec, dataset, name, built.first, built.last)}.parquet"
            meta = {
                "table": name,
                "filename": filename,
                "created_at": {"secs": int(created), "nanos": int((created % 1) * 1e9)},
                "ranges": [block_range],
            }
            write_parquet(folder / filename, table, meta)


def write_manifests(spec: ChainSpec, out_dir: Path) -> dict[str, Path]:
    out = {}
    for dataset, kind in ((FIREHOSE_DATASET, "firehose"), (RPC_DATASET, "evm-rpc")):
        folder = out_dir / dataset
        folder.mkdir(parents=True, exist_ok=True)
        manifest = raw_manifest(kind, spec.network, start_block=spec.start_block)
        atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        out[dataset] = folder
    return out


def chunks(first: int, last: int, size: int) -> Iterator[tuple[int, int]]:
    """[first, last] in consecutive ranges of at most `size` blocks."""
    start = first
    while start <= last:
        end = min(last, start + size - 1)
        yield start, end
        start = end + 1


def _already_written(out_dir: Path, spec: ChainSpec) -> ChainInfo | None:
    """The chain in `out_dir` if it is this spec's and complete (a follower may have extended it)."""
    existing = read_chain_info(out_dir)
    complete = (
        existing is not None
        and existing.spec.identity() == spec.identity()
        and existing.head >= spec.start_block + spec.blocks - 1
        and all((out_dir / d / "manifest.json").exists() for d in (FIREHOSE_DATASET, RPC_DATASET))
    )
    return existing if complete else None


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
    existing = None if force else _already_written(out_dir, spec)
    if existing is not None:
        existing.reused = True
        return existing

    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (out_dir / CHAIN_META).unlink()
    for dataset in (FIREHOSE_DATASET, RPC_DATASET):
        shutil.rmtree(out_dir / dataset, ignore_errors=True)
    datasets = write_manifests(spec, out_dir)

    cache = EpochCache(spec)
    last_block = start_block + blocks - 1
    prev_hash = spec.genesis_parent()
    created = time.time()
    built = None
    for first, last in chunks(start_block, last_block, blocks_per_file):
        content = cache.content(first, last)
        built = build_range(spec, content, prev_hash, historic_timestamps(spec, first, last))
        write_range(spec, out_dir, built, created)
        prev_hash = bytes(built.hashes[-1])
        if progress:
            progress(last - start_block + 1, blocks)
    assert built is not None
    info = ChainInfo(
        out_dir=out_dir,
        spec=spec,
        head=last_block,
        head_hash=prev_hash,
        head_timestamp=int(built.timestamps[-1]),
        datasets=datasets,
    )
    info.save()
    return info
