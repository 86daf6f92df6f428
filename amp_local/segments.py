"""Parquet segments as Amp writes them: one file per block range, the range in the footer.

Each file's footer carries Amp's `nozzle_metadata` (`ranges: [{numbers, network, hash, prev_hash,
timestamp}]`); files without it fall back to `_block_num` column statistics. Results are cached per
file (path, mtime, size), so listing a table on every query stays cheap while new files appear.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_NS = 1_000_000_000


class FileRange(NamedTuple):
    path: Path
    start: int
    end: int
    hash: bytes  # hash of block `end`
    prev_hash: bytes  # parent hash of block `start`
    timestamp: int | None  # seconds, of block `end`


_footer_cache: dict[tuple[str, int, int], FileRange | None] = {}
_footer_lock = threading.Lock()


def _file_range(path: Path) -> FileRange | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _footer_lock:
        if key in _footer_cache:
            return _footer_cache[key]
    fr = None
    meta = pq.read_metadata(path)
    raw = (meta.metadata or {}).get(b"nozzle_metadata")
    if raw:
        r = json.loads(raw)["ranges"][0]
        fr = FileRange(
            path,
            int(r["numbers"]["start"]),
            int(r["numbers"]["end"]),
            bytes.fromhex(r["hash"].removeprefix("0x")),
            bytes.fromhex(r["prev_hash"].removeprefix("0x")),
            r.get("timestamp"),
        )
    else:  # no Amp metadata: fall back to column statistics
        col = meta.schema.to_arrow_schema().get_field_index("_block_num")
        lo = hi = None
        for i in range(meta.num_row_groups):
            st_ = meta.row_group(i).column(col).statistics
            if st_ is not None and st_.has_min_max:
                lo = st_.min if lo is None else min(lo, st_.min)
                hi = st_.max if hi is None else max(hi, st_.max)
        if lo is not None:
            fr = FileRange(path, int(lo), int(hi), b"", b"", None)
    with _footer_lock:
        if len(_footer_cache) > 50_000:
            _footer_cache.clear()
        _footer_cache[key] = fr
    return fr


def file_ranges(table_dir: str | Path) -> list[FileRange]:
    """Block ranges of a table folder's parquet segments, sorted by start block."""
    out = []
    for p in Path(table_dir).glob("*.parquet"):
        fr = _file_range(p)
        if fr is not None:
            out.append(fr)
    out.sort(key=lambda f: (f.start, f.end))
    return out


def synced_range(table_dir: str | Path) -> tuple[int, int] | None:
    """`(first, last)` block written for a table (inclusive), or None if it has no files."""
    ranges = file_ranges(table_dir)
    if not ranges:
        return None
    return min(r.start for r in ranges), max(r.end for r in ranges)


def canonical_chain(table_dir: str | Path) -> list[FileRange]:
    """The segments forming the contiguous chain from the first block: what Amp reports as a
    table's synced range (anything after a gap is not queryable-and-verified yet)."""
    chain: list[FileRange] = []
    for fr in file_ranges(table_dir):
        if not chain:
            chain.append(fr)
        elif fr.start == chain[-1].end + 1:
            chain.append(fr)
        elif fr.start > chain[-1].end + 1:
            break
    return chain


class BlockInfo(NamedTuple):
    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int  # seconds since epoch


_blocks_cache: dict[tuple[str, int, int], dict[int, BlockInfo]] = {}


def block_info(blocks_dir: str | Path, block_num: int) -> BlockInfo | None:
    """Hash, parent hash and timestamp of `block_num` from a `blocks` table folder (cached)."""
    for fr in file_ranges(blocks_dir):
        if fr.start <= block_num <= fr.end:
            st = fr.path.stat()
            key = (str(fr.path), st.st_mtime_ns, st.st_size)
            rows = _blocks_cache.get(key)
            if rows is None:
                t = pq.read_table(
                    fr.path, columns=["block_num", "hash", "parent_hash", "timestamp"]
                )
                ts = pc.divide(t["timestamp"].cast(pa.int64()), _NS).to_pylist()
                rows = {
                    n: BlockInfo(n, h, p, s)
                    for n, h, p, s in zip(
                        t["block_num"].to_pylist(),
                        t["hash"].to_pylist(),
                        t["parent_hash"].to_pylist(),
                        ts,
                        strict=True,
                    )
                }
                if len(_blocks_cache) > 64:
                    _blocks_cache.clear()
                _blocks_cache[key] = rows
            if block_num in rows:
                return rows[block_num]
    return None


def write_segment(
    directory: str | Path, table: pa.Table, name: str, ranges: list[dict], file_id: str
) -> Path:
    """Write one segment of table `name` as Amp does: `<start block:09d>-<id>.parquet`, ZSTD,
    `nozzle_metadata` with the block `ranges` it covers in the footer. The file appears atomically
    (written under a name not ending in `.parquet`, then renamed), so readers never see it half
    written; an empty `table` still records that its blocks were processed."""
    directory = Path(directory)
    start = ranges[0]["numbers"]["start"]
    path = directory / f"{start:09d}-{file_id}.parquet"
    created = time.time()
    meta = {
        "table": name,
        "filename": path.name,
        "created_at": {"secs": int(created), "nanos": int((created % 1) * 1e9)},
        "ranges": ranges,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
        writer.write_table(table, row_group_size=256 * 1024)
        writer.add_key_value_metadata(
            {"generation": "0", "parent_file_ids": "[]", "nozzle_metadata": json.dumps(meta)}
        )
    os.replace(tmp, path)
    return path
