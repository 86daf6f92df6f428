"""Benchmark a derived dataset's materialization: `python benchmarks/bench_materialize.py [--blocks N]`.

Baseline (measured in the same run): the table's SQL run once by amp_local's engine over the raw
parquet, all rows collected. Measured: the materializer writing the same table as a job does
(`_block_num` propagated, rows ordered, parquet segments written), with Amp's default microbatch
size and with 1,000-block microbatches. Prints each time and its ratio to the baseline (goal ≤ 1.5×
for the default microbatch size).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from amp_local.chain import generate_chain  # noqa: E402
from amp_local.datasets import DatasetStore  # noqa: E402
from amp_local.derived import analyse  # noqa: E402
from amp_local.engine import QueryEngine  # noqa: E402
from amp_local.materialize import DEFAULT_MICROBATCH_BLOCKS, Materializer, run_until  # noqa: E402
from amp_local.metadata import MetadataDb  # noqa: E402
from amp_local.registry import Registry, scratch_dataset  # noqa: E402
from amp_local.schemas import schema_to_serde  # noqa: E402

TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
SQL = f"""
SELECT e.block_num, e.log_index, e.address AS token, e.ev['from'] AS sender, e.ev['to'] AS receiver,
       e.ev['value'] AS amount
FROM (
  SELECT block_num, log_index, address, evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') AS ev
  FROM eth.logs WHERE topic0 = evm_topic('{TRANSFER}')
) AS e
"""


def deployed(workdir: Path, store: DatasetStore, name: str):
    registry = Registry(store, MetadataDb(workdir / f"{name}.sqlite"), workdir / name)
    registry.adopt_store()
    aliases = {"eth": registry.dataset("_", "eth_rpc", registry.resolve("_", "eth_rpc", "1.0.0"))}
    schema = analyse(store, aliases, {"t": SQL}, scratch_dataset(aliases), check_aliases=True)
    manifest = {
        "kind": "manifest",
        "dependencies": {"eth": "_/eth_rpc@1.0.0"},
        "tables": {"t": {"input": {"sql": SQL}, "schema": schema_to_serde(schema.schemas["t"])}},
        "functions": {},
    }
    digest = registry.register("bench", name, None, manifest)["manifest_hash"]
    dataset = registry.dataset("bench", name, digest)
    registry.activate(dataset)
    return dataset, aliases


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blocks", type=int, default=20_000)
    a = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="amp-materialize-bench-"))
    try:
        generate_chain(workdir / "chain", blocks=a.blocks, seed=0)
        store = DatasetStore()
        store.add_raw_dataset("_", "eth_rpc", "1.0.0", workdir / "chain" / "eth_rpc")

        engine = QueryEngine(store)
        timings = []
        for _ in range(3):  # the best of three: file caches and UDFs warm, as for the jobs
            t0 = time.perf_counter()
            planned = engine.plan(SQL.replace("eth.logs", '"_/eth_rpc@1.0.0".logs'), False)
            _, batches = engine.execute(planned)
            rows = pa.Table.from_batches(list(batches), schema=planned.schema).num_rows
            timings.append(time.perf_counter() - t0)
        baseline = min(timings)
        print(f"baseline: one query, {rows:,} rows over {a.blocks:,} blocks: {baseline:.2f}s")

        for label, size in (("default", DEFAULT_MICROBATCH_BLOCKS), ("1,000-block", 1_000)):
            dataset, aliases = deployed(workdir, store, f"m{size}")
            t0 = time.perf_counter()
            run_until(Materializer(store, dataset, aliases, size), "latest", lambda: False)
            elapsed = time.perf_counter() - t0
            files = len(list(dataset.tables["t"].directory.glob("*.parquet")))
            print(
                f"materialize ({label} microbatches, {files} segments): {elapsed:.2f}s = "
                f"{elapsed / baseline:.2f}x baseline"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
