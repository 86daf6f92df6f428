"""The chain generator writes the same bytes for the same seed as the generator it was refactored
from (`amp_local/chain.py` before it became the `amp_local.chain` package).

`golden/chain_generator_sha256.json` was recorded with that earlier generator: two small chains (one
spanning epochs and files and then followed by 1 and 5 blocks, one on `base` at a late start block
with 20 transactions per block), with the wall clock fixed. Per file it holds the sha256 of the file
and of its decoded content (rows plus footer metadata); the ground truth's events are hashed too. A
pyarrow upgrade may change parquet bytes but not content: the message says which one differs.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from amp_local.chain import ChainFollower, decoded_events, erc20_transfers, generate_chain

GOLDEN = json.loads((Path(__file__).parent / "golden" / "chain_generator_sha256.json").read_text())


def content_digest(path: Path) -> str:
    """sha256 of a parquet file's rows (as an Arrow IPC stream) and footer metadata; of the bytes
    of any other file."""
    if path.suffix != ".parquet":
        return hashlib.sha256(path.read_bytes()).hexdigest()
    parquet = pq.ParquetFile(path)
    table = parquet.read()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    digest = hashlib.sha256(sink.getvalue().to_pybytes())
    footer = {k.decode(): v.decode() for k, v in parquet.metadata.metadata.items()}
    digest.update(json.dumps(footer, sort_keys=True).encode())
    return digest.hexdigest()


@pytest.mark.parametrize("case", sorted(GOLDEN["cases"]))
def test_same_seed_writes_the_same_bytes(case, tmp_path, monkeypatch):
    golden = GOLDEN["cases"][case]
    monkeypatch.setattr(time, "time", lambda: GOLDEN["created_at"])
    generate_chain(tmp_path, **golden["args"])
    follower = ChainFollower(tmp_path, now=lambda: GOLDEN["follow_now"])
    for n in golden["follow"]:
        follower.append_blocks(n)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    names = [str(p.relative_to(tmp_path)) for p in files]
    assert names == sorted(golden["file_sha256"])
    contents = {name: content_digest(p) for name, p in zip(names, files, strict=True)}
    assert contents == golden["content_sha256"]
    file_bytes = {
        name: hashlib.sha256(p.read_bytes()).hexdigest()
        for name, p in zip(names, files, strict=True)
    }
    assert file_bytes == golden["file_sha256"], (
        f"same content, other bytes: recorded with pyarrow {GOLDEN['pyarrow']}, "
        f"running {pa.__version__}"
    )
    events = hashlib.sha256(repr(decoded_events(tmp_path)).encode()).hexdigest()
    transfers = hashlib.sha256(repr(erc20_transfers(tmp_path)).encode()).hexdigest()
    assert (events, transfers) == (golden["events_sha256"], golden["transfers_sha256"])
