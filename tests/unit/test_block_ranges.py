"""Block-range progress and exports (dbt/adapters/amp/incremental.py, export.py) on a real state.db
and real Parquet files, driven with the block ranges Amp sends: what is compiled, what is recorded,
and the cases a growing test chain does not produce (another process advancing the same model, a
chain that got shorter, a second network, files left by a killed run)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt_common.exceptions import CompilationError, DbtRuntimeError

from dbt.adapters.amp.export import (
    NetworkRange,
    ParquetExport,
    export_file_name,
    export_files,
    parse_export_file_name,
)
from dbt.adapters.amp.incremental import BlockRangeTracker
from dbt.adapters.amp.state import (
    BlockProgress,
    open_state,
    read_block_progress,
    replace_block_progress,
    write_transaction,
)

SCHEMA = pa.schema([("block_num", pa.uint64())])


def node(name="transfers", **config):
    config = {"materialized": "query", "incremental_strategy": "block_range", **config}
    return {
        "unique_id": f"model.proj.{name}",
        "name": name,
        "alias": name,
        "resource_type": "model",
        "original_file_path": f"models/{name}.sql",
        "config": config,
    }


def amp_ranges(*ranges):
    """Amp's app_metadata `ranges`: (network, start, end) triples."""
    return [
        {
            "numbers": {"start": s, "end": e},
            "network": n,
            "hash": f"0x{e:064x}",
            "prev_hash": "0x" + "00" * 32,
            "timestamp": 1_700_000_000 + e,
        }
        for n, s, e in ranges
    ]


def run_once(tracker, model, ranges, blocks=(), full_refresh=False):
    """What one `dbt run` of `model` does: compile (is_incremental), start, stream, finish."""
    tracker.is_incremental(model, full_refresh)
    run = tracker.start_run(model, full_refresh)
    if run.sink is not None:
        run.sink.begin(SCHEMA)
        run.sink.write(pa.record_batch([pa.array(list(blocks), pa.uint64())], schema=SCHEMA))
    try:
        return run.finish(amp_ranges(*ranges), len(blocks))
    except BaseException:
        run.abort()
        raise


def stored(tracker, model):
    with open_state(tracker.project_root) as conn:
        found = read_block_progress(conn, tracker.key(tracker.model(model)))
    return {n: (p.first_block, p.last_block) for n, p in found.items()}


@pytest.fixture
def tracker(tmp_path):
    return BlockRangeTracker(tmp_path, "proj", "dev")


def test_progress_is_the_end_of_amps_ranges(tracker, monkeypatch):
    model = node()
    assert tracker.is_incremental(model, False) is False
    outcome = run_once(tracker, model, [("mainnet", 0, 100)], blocks=[3, 7])
    assert [r.to_json() for r in outcome.processed] == [
        {"network": "mainnet", "start": 0, "end": 100}
    ]
    # the end Amp reported (100), not the largest block among the rows (7)
    assert stored(tracker, model) == {"mainnet": (0, 100)}
    with open_state(tracker.project_root) as conn:
        (row,) = read_block_progress(conn, tracker.key(tracker.model(model))).values()
    assert row.last_block_hash == f"0x{100:064x}" and row.last_block_timestamp == 1_700_000_100
    assert tracker.is_incremental(model, False) is True
    assert tracker.last_processed_block(model, None, False) == 100
    monkeypatch.setattr("dbt.adapters.amp.incremental.get_invocation_id", lambda: "refresh")
    assert tracker.is_incremental(model, True) is False  # --full-refresh


def test_compile_time_view_is_fixed_per_invocation(tracker, monkeypatch):
    model = node()
    run_once(tracker, model, [("mainnet", 0, 100)])
    assert tracker.last_processed_block(model, None, False) == 100
    with open_state(tracker.project_root) as conn, write_transaction(conn):
        replace_block_progress(
            conn, tracker.key(tracker.model(model)), [BlockProgress("mainnet", 0, 150)]
        )
    # the same compilation keeps seeing what its first macro call saw
    assert tracker.last_processed_block(model, None, False) == 100
    # ...and its run refuses to start on the changed state rather than mis-record blocks
    with pytest.raises(DbtRuntimeError, match="changed after its SQL was compiled"):
        tracker.start_run(model, False)
    monkeypatch.setattr("dbt.adapters.amp.incremental.get_invocation_id", lambda: "next-run")
    assert tracker.last_processed_block(model, None, False) == 150


def test_another_process_advancing_during_the_run_wins(tracker, tmp_path):
    model = node(export=True)
    run_once(tracker, model, [("mainnet", 0, 100)], blocks=[1])
    tracker.is_incremental(model, False)
    run = tracker.start_run(model, False)
    run.sink.begin(SCHEMA)
    with open_state(tracker.project_root) as conn, write_transaction(conn):  # the other process
        replace_block_progress(
            conn, tracker.key(tracker.model(model)), [BlockProgress("mainnet", 0, 120)]
        )
    with pytest.raises(DbtRuntimeError, match="another dbt process recorded progress"):
        run.finish(amp_ranges(("mainnet", 0, 130)), 0)
    assert stored(tracker, model) == {"mainnet": (0, 120)}
    names = [p.name for p, _ in export_files(tmp_path / "exports" / "dev", "transfers")]
    assert names == [export_file_name("transfers", [NetworkRange("mainnet", 0, 100)])]
    assert not list((tmp_path / "exports" / "dev").glob(".*.tmp"))


def test_no_new_blocks_changes_nothing(tracker, tmp_path):
    model = node(export=True)
    run_once(tracker, model, [("mainnet", 0, 100)], blocks=[5])
    outcome = run_once(tracker, model, [("mainnet", 0, 100)])
    assert (
        outcome.processed == [] and "no new blocks since mainnet up to block 100" in outcome.note
    )
    assert stored(tracker, model) == {"mainnet": (0, 100)}
    assert len(export_files(tmp_path / "exports" / "dev", "transfers")) == 1


def test_a_shorter_chain_is_refused(tracker):
    model = node()
    run_once(tracker, model, [("mainnet", 0, 100)])
    with pytest.raises(DbtRuntimeError) as excinfo:
        run_once(tracker, model, [("mainnet", 0, 80)])
    message = str(excinfo.value)
    assert "only up to 80" in message and "up to block 100" in message
    assert "--full-refresh" in message
    assert stored(tracker, model) == {"mainnet": (0, 100)}


def test_several_networks(tracker, tmp_path):
    model = node(export="out")
    run_once(tracker, model, [("mainnet", 0, 100), ("base", 10, 50)], blocks=[1])
    with pytest.raises(CompilationError, match="reads several networks \\(base, mainnet\\)"):
        tracker.last_processed_block(model, None, False)
    assert tracker.last_processed_block(model, "base", False) == 50
    with pytest.raises(CompilationError, match="Use one of those network names"):
        tracker.last_processed_block(model, "arbitrum", False)
    run_once(tracker, model, [("mainnet", 0, 110), ("base", 10, 55)], blocks=[2])
    names = [p.name for p, _ in export_files(tmp_path / "out", "transfers")]
    assert names == [
        "transfers.base.000000000010-000000000050.mainnet.000000000000-000000000100.parquet",
        "transfers.base.000000000051-000000000055.mainnet.000000000101-000000000110.parquet",
    ]
    with pytest.raises(DbtRuntimeError, match="last run read base, mainnet but this run read"):
        run_once(tracker, model, [("mainnet", 0, 120)])


def test_files_of_a_killed_run_are_removed(tracker, tmp_path):
    """A run killed after renaming its file but before recording its progress leaves a file
    past the recorded progress: the next run removes it (and reads those blocks again)."""
    model = node(export=True)
    folder = tmp_path / "exports" / "dev"
    run_once(tracker, model, [("mainnet", 0, 100)], blocks=[1])
    orphan = folder / export_file_name("transfers", [NetworkRange("mainnet", 101, 120)])
    pq.write_table(pa.table({"block_num": pa.array([110], pa.uint64())}), orphan)
    other_model = folder / export_file_name("transfers_v2", [NetworkRange("mainnet", 101, 120)])
    other_model.write_bytes(b"not ours")
    outcome = run_once(tracker, model, [("mainnet", 0, 130)], blocks=[110, 125])
    assert [r.to_json() for r in outcome.processed] == [
        {"network": "mainnet", "start": 101, "end": 130}
    ]
    ours = [(p.name, r) for p, r in export_files(folder, "transfers")]
    assert [r for _, r in ours] == [
        [NetworkRange("mainnet", 0, 100)],
        [NetworkRange("mainnet", 101, 130)],
    ]
    assert other_model.exists()  # another model's file is never touched
    assert pq.read_table(folder / ours[1][0])["block_num"].to_pylist() == [110, 125]


def test_full_refresh_resets_progress_and_exports(tracker, tmp_path):
    model = node(export=True)
    run_once(tracker, model, [("mainnet", 0, 100)], blocks=[1])
    run_once(tracker, model, [("mainnet", 0, 110)], blocks=[105])
    outcome = run_once(
        tracker, model, [("mainnet", 0, 120)], blocks=[1, 105, 115], full_refresh=True
    )
    assert [r.to_json() for r in outcome.processed] == [
        {"network": "mainnet", "start": 0, "end": 120}
    ]
    assert stored(tracker, model) == {"mainnet": (0, 120)}
    assert [r for _, r in export_files(tmp_path / "exports" / "dev", "transfers")] == [
        [NetworkRange("mainnet", 0, 120)]
    ]


def test_plain_query_models_keep_nothing(tracker, tmp_path):
    model = node(incremental_strategy=None)
    outcome = run_once(tracker, model, [("mainnet", 0, 100)], blocks=[1])
    assert outcome.processed == [] and outcome.export_path is None
    assert stored(tracker, model) == {}
    with pytest.raises(CompilationError, match="exists only for materialized='query' models"):
        tracker.last_processed_block(model, None, False)


def test_export_without_block_range_writes_one_file_per_range(tracker, tmp_path):
    model = node(incremental_strategy=None, export=str(tmp_path / "abs"))
    first = run_once(tracker, model, [("mainnet", 0, 100)], blocks=[1, 2])
    second = run_once(tracker, model, [("mainnet", 0, 110)], blocks=[1, 2, 105])
    assert first.export_path.parent == tmp_path / "abs"
    assert [p.name for p, _ in export_files(tmp_path / "abs", "transfers")] == [
        first.export_path.name,
        second.export_path.name,
    ]
    assert stored(tracker, model) == {}


@pytest.mark.parametrize(
    "ranges",
    [
        [NetworkRange("mainnet", 0, 9)],
        [NetworkRange("mainnet", 5, 1_000_000_000_000_000), NetworkRange("base-sepolia", 1, 2)],
    ],
)
def test_file_names_round_trip(ranges):
    name = export_file_name("my_model", ranges)
    assert parse_export_file_name("my_model", name) == sorted(ranges, key=lambda r: r.network)
    assert parse_export_file_name("my", name) is None
    assert parse_export_file_name("my_model", name + ".tmp") is None


def test_parquet_export_streams_into_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr("dbt.adapters.amp.export.ROW_GROUP_ROWS", 1_000)
    sink = ParquetExport(tmp_path / "out", "m")
    sink.begin(SCHEMA)
    sink.write(pa.record_batch([pa.array([999], pa.uint64())], schema=SCHEMA))
    sink.begin(SCHEMA)  # a retried query starts the file over
    for start in range(0, 2_500, 100):  # 25 small Flight batches
        values = pa.array(range(start, start + 100), pa.uint64())
        sink.write(pa.record_batch([values], schema=SCHEMA))
    sink.write(pa.record_batch([pa.array([], pa.uint64())], schema=SCHEMA))
    path = sink.commit([NetworkRange("mainnet", 0, 2_499)])
    assert path.name == "m.mainnet.000000000000-000000002499.parquet"
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1_000, 1_000, 500]
    assert pq.read_table(path)["block_num"].to_pylist() == list(range(2_500))
    assert sink.rows == 2_500
    assert [p.name for p in (tmp_path / "out").iterdir()] == [path.name]  # no temporary left


def test_parquet_export_abort_leaves_nothing(tmp_path):
    sink = ParquetExport(tmp_path, "m")
    sink.begin(SCHEMA)
    sink.write(pa.record_batch([pa.array([1], pa.uint64())], schema=SCHEMA))
    assert sink.temporary.exists()
    sink.abort()
    assert list(tmp_path.iterdir()) == []
