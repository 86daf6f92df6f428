"""The derived-table materializer on a real synthetic chain, in process: microbatches add up to the
one-shot query, joins match across microbatch boundaries, a stop interrupts a microbatch without
writing it, and a growing chain is followed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from amp_local.chain import ChainFollower, generate_chain
from amp_local.datasets import DatasetStore
from amp_local.derived import analyse
from amp_local.engine import QueryEngine
from amp_local.materialize import Materializer, Stopped, resolve_end_block, run_until
from amp_local.metadata import MetadataDb
from amp_local.registry import Registry, scratch_dataset
from amp_local.schemas import schema_to_serde
from amp_local.segments import canonical_chain, file_ranges

BLOCKS = 300
TABLES = {
    "timed": "SELECT l.block_num, l.log_index, b.timestamp AS block_time "
    "FROM eth.logs l JOIN eth.blocks b ON l.block_num = b.block_num",
    "per_block": "SELECT _block_num, count(*) AS n FROM self.timed GROUP BY _block_num",
    "both": "SELECT block_num FROM eth.blocks WHERE block_num % 7 = 0 "
    "UNION ALL SELECT block_num FROM eth.logs WHERE log_index = 0",
}


@pytest.fixture
def chain(tmp_path):
    generate_chain(tmp_path / "chain", blocks=BLOCKS, seed=3)
    return tmp_path / "chain"


def deployed(tmp_path, chain, tables=TABLES):
    """A registry with the chain's eth_rpc and a derived dataset over it, its tables activated."""
    store = DatasetStore()
    store.add_raw_dataset("_", "eth_rpc", "1.0.0", chain / "eth_rpc")
    registry = Registry(store, MetadataDb(tmp_path / "meta.sqlite"), tmp_path / "data")
    registry.adopt_store()
    registry.load()
    aliases = {"eth": registry.dataset("_", "eth_rpc", registry.resolve("_", "eth_rpc", "1.0.0"))}
    schemas = analyse(store, aliases, tables, scratch_dataset(aliases), check_aliases=True).schemas
    manifest = {
        "kind": "manifest",
        "dependencies": {"eth": "_/eth_rpc@1.0.0"},
        "tables": {
            name: {"input": {"sql": sql}, "schema": schema_to_serde(schemas[name])}
            for name, sql in tables.items()
        },
        "functions": {},
    }
    digest = registry.register("t", "derived", None, manifest)["manifest_hash"]
    dataset = registry.dataset("t", "derived", digest)
    registry.activate(dataset)
    return store, dataset, aliases


def adhoc(store: DatasetStore, sql: str) -> pa.Table:
    engine = QueryEngine(store)
    planned = engine.plan(sql.replace("eth.", '"_/eth_rpc@1.0.0".'), stream_header=False)
    _, batches = engine.execute(planned)
    return pa.Table.from_batches(list(batches), schema=planned.schema)


def read(dataset, table: str) -> pa.Table:
    files = sorted(dataset.tables[table].directory.glob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files)


def test_microbatches_add_up_to_the_one_shot_query(tmp_path, chain):
    store, dataset, aliases = deployed(tmp_path, chain)
    materializer = Materializer(store, dataset, aliases, microbatch_blocks=37)
    run_until(materializer, "latest", lambda: False)

    for name in TABLES:
        ranges = [(f.start, f.end) for f in file_ranges(dataset.tables[name].directory)]
        assert ranges == [(s, min(s + 36, BLOCKS - 1)) for s in range(0, BLOCKS, 37)]
        assert canonical_chain(dataset.tables[name].directory)[-1].end == BLOCKS - 1

    timed = read(dataset, "timed")
    expected = adhoc(store, TABLES["timed"])
    key = [("block_num", "ascending"), ("log_index", "ascending")]
    assert timed.num_rows == expected.num_rows > 0
    assert timed.drop_columns("_block_num").sort_by(key).equals(expected.sort_by(key))
    assert timed.column("_block_num").to_pylist() == sorted(timed.column("block_num").to_pylist())

    per_block = read(dataset, "per_block")
    counts = adhoc(store, "SELECT block_num, count(*) AS n FROM eth.logs GROUP BY block_num")
    assert dict(
        zip(*per_block.select(["_block_num", "n"]).to_pydict().values(), strict=True)
    ) == dict(zip(*counts.to_pydict().values(), strict=True))
    both = read(dataset, "both")
    assert sorted(both.column("block_num").to_pylist()) == sorted(
        adhoc(store, TABLES["both"]).column("block_num").to_pylist()
    )


def test_a_stop_interrupts_the_microbatch_without_writing_it(tmp_path, chain):
    store, dataset, aliases = deployed(tmp_path, chain, {"timed": TABLES["timed"]})
    materializer = Materializer(store, dataset, aliases, microbatch_blocks=100)
    materializer.step(None, lambda: False)  # blocks 0..99 written
    checks = iter([False, False])  # stop is seen between the join's windows of 100..199

    with pytest.raises(Stopped):
        materializer.step(None, lambda: next(checks, True))
    assert [(f.start, f.end) for f in file_ranges(dataset.tables["timed"].directory)] == [(0, 99)]
    materializer.step(None, lambda: False)  # resumes where the data ends
    assert canonical_chain(dataset.tables["timed"].directory)[-1].end == 199


def test_a_continuous_materialization_follows_the_chain_head(tmp_path, chain):
    store, dataset, aliases = deployed(tmp_path, chain, {"timed": TABLES["timed"]})
    materializer = Materializer(store, dataset, aliases)
    assert materializer.step(None, lambda: False) and not materializer.step(None, lambda: False)
    ChainFollower(chain).append_blocks(5)
    assert materializer.step(None, lambda: False)
    assert materializer.synced("timed") == (0, BLOCKS + 4)
    assert read(dataset, "timed").num_rows == adhoc(store, TABLES["timed"]).num_rows


@pytest.mark.parametrize(
    ("end_block", "latest", "expected"),
    [(None, 99, 99), ("latest", 99, 99), ("42", 99, 42), ("-9", 99, 90), ("-9", None, None)],
)
def test_end_block(end_block, latest, expected):
    assert resolve_end_block(end_block, latest) == expected
