"""Benchmark the synthetic chain generator: `python benchmarks/bench_chain.py [--blocks N]`.

Generates N blocks (default 100,000) of both raw datasets into a temporary directory and prints
blocks/s and rows/s (rows summed over every table of both datasets).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from amp_local.chain import generate_chain  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blocks", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="keep the output here instead of a temp dir")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="amp-chain-bench-") as tmp:
        out = a.out or Path(tmp)
        t0 = time.perf_counter()
        info = generate_chain(out, blocks=a.blocks, seed=a.seed, force=True)
        elapsed = time.perf_counter() - t0
        rows: dict[str, int] = {}
        size = 0
        for ds in info.datasets.values():
            for f in sorted(ds.glob("*/*.parquet")):
                key = f"{ds.name}.{f.parent.name}"
                rows[key] = rows.get(key, 0) + pq.read_metadata(f).num_rows
                size += f.stat().st_size
        total = sum(rows.values())
        for k, v in rows.items():
            print(f"  {k:<28} {v:>12,} rows")
        print(
            f"{a.blocks:,} blocks in {elapsed:.2f}s: {a.blocks / elapsed:,.0f} blocks/s, "
            f"{total / elapsed:,.0f} rows/s ({total:,} rows, {size / 1e6:.0f} MB parquet)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
