"""Block-range incremental `query` models with Parquet exports, on an amp_local whose chain grows
(`--follow`): each run reads only the blocks after the last successful one, the exports add up to
exactly one full read of the same range, `--full-refresh` starts over, a failed run changes nothing,
and several models on four threads (and two dbt processes at once) keep separate progress."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pyarrow.parquet as pq
import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture

from amp_local.launcher import start_amp_local
from dbt.adapters.amp.flight import statement_query_command
from dbt.adapters.amp.state import ModelKey, open_state, read_block_progress, state_path
from tests.functional.adapter.projects import messages, sources_yml, statuses
from tests.profiles import amp_target

FIREHOSE = '"_/eth_firehose@1.0.0"'
SOURCES = sources_yml("eth", "_/eth_firehose@1.0.0", "logs", "blocks")
COLUMNS = "block_num, log_index, timestamp, address, topic0, data"
# `{{% if ... %}}` etc.: the f-string leaves `{% ... %}` for Jinja
TRANSFERS = f"""
{{{{ config(materialized='query', incremental_strategy='block_range', export=true) }}}}
select {COLUMNS} from {{{{ source('eth', 'logs') }}}}
{{% if is_incremental() %}}
where block_num > {{{{ last_processed_block() }}}} {{{{ var('extra_filter', '') }}}}
{{% endif %}}
"""
BLOCKS = """
{{ config(materialized='query', incremental_strategy='block_range') }}
select block_num from {{ source('eth', 'blocks') }}
{% if is_incremental() %} where block_num > {{ last_processed_block() }} {% endif %}
"""


def flight_table(url: str, sql: str) -> pa.Table:
    client = fl.connect(url)
    try:
        info = client.get_flight_info(
            fl.FlightDescriptor.for_command(statement_query_command(sql))
        )
        return client.do_get(info.endpoints[0].ticket).read_all()
    finally:
        client.close()


def synced_end(url: str, table: str) -> int:
    """The end of the block range Amp reports for a query of `table` (what a model reading it
    will record), from the stream's last app_metadata."""
    client = fl.connect(url)
    try:
        sql = f"select block_num from {FIREHOSE}.{table} limit 0"
        info = client.get_flight_info(
            fl.FlightDescriptor.for_command(statement_query_command(sql))
        )
        reader, meta = client.do_get(info.endpoints[0].ticket), None
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            meta = chunk.app_metadata or meta
        return json.loads(meta.to_pybytes())["ranges"][0]["numbers"]["end"]
    finally:
        client.close()


def wait_for_head_above(
    url: str, block: int, table: str = "logs", deadline_seconds: float = 120.0
) -> int:
    """Wait until Amp reports `table` synced past `block` (fails, saying why, if that never
    happens: the server's follower is not running)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        end = synced_end(url, table)
        if end > block:
            return end
        time.sleep(0.2)
    raise AssertionError(f"amp-local --follow did not sync {table} past block {block}")


def progress(project_root, model: str, target: str = "default") -> dict:
    with open_state(project_root) as conn:
        found = read_block_progress(conn, ModelKey("test", target, f"model.test.{model}"))
    return {n: (p.first_block, p.last_block) for n, p in found.items()}


def exports(project_root, model: str) -> list[Path]:
    return sorted((Path(project_root) / "exports" / "default").glob(f"{model}.*.parquet"))


def sort_rows(table: pa.Table) -> pa.Table:
    return table.sort_by([("block_num", "ascending"), ("log_index", "ascending")])


@pytest.fixture(scope="module")
def follow_server(tmp_path_factory):
    """An amp-local whose chain grows by one block every 0.3 s."""
    server = start_amp_local(
        tmp_path_factory.mktemp("amp_follow"),
        blocks=300,
        snapshots=False,
        extra_args=["--seed", "11", "--follow", "0.3"],
    )
    yield server
    server.stop()


class FollowProject:
    @pytest.fixture(scope="class")
    def dbt_profile_target(self, follow_server):
        return amp_target(follow_server)

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"test": {"+materialized": "ephemeral"}}}


class TestGrowingChain(FollowProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {"sources.yml": SOURCES, "transfers.sql": TRANSFERS}

    def run_transfers(self, *extra: str, expect_pass: bool = True):
        results = run_dbt(["run", "-s", "transfers", *extra], expect_pass=expect_pass)
        assert len(results) == 1
        return results[0]

    def test_three_runs_full_refresh_and_failures(self, project, follow_server):
        root, url = project.project_root, follow_server.flight_url
        assert not state_path(root).exists()

        # run 1: a full read; Amp's reported range ends at the head the query saw
        first = self.run_transfers()
        (r1,) = first.adapter_response["processed_ranges"]
        assert r1["network"] == "mainnet" and r1["start"] == 0
        assert first.adapter_response["block_ranges"][0]["numbers"]["end"] == r1["end"]
        assert "where block_num >" not in first.node.compiled_code
        assert progress(root, "transfers") == {"mainnet": (0, r1["end"])}
        with sqlite3.connect(state_path(root)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

        # runs 2 and 3: only the blocks after the previous run's end
        ends = [r1["end"]]
        for _ in range(2):
            wait_for_head_above(url, ends[-1])
            result = self.run_transfers()
            assert f"where block_num > {ends[-1]}" in result.node.compiled_code
            (rng,) = result.adapter_response["processed_ranges"]
            assert rng["start"] == ends[-1] + 1 and rng["end"] >= rng["start"]
            ends.append(rng["end"])
            assert progress(root, "transfers") == {"mainnet": (0, rng["end"])}
            read = pq.read_table(result.adapter_response["export_path"])
            assert read.num_rows == result.adapter_response["rows"]
            blocks = pa.compute.min_max(read["block_num"]).as_py() if read.num_rows else None
            assert blocks is None or (blocks["min"] > ends[-2] and blocks["max"] <= ends[-1]), (
                blocks
            )

        # the three exports are named by the blocks they hold and add up to one full read
        files = exports(root, "transfers")
        assert [f.name for f in files] == [
            f"transfers.mainnet.{s:012d}-{e:012d}.parquet"
            for s, e in [(0, ends[0]), (ends[0] + 1, ends[1]), (ends[1] + 1, ends[2])]
        ]
        exported = sort_rows(pa.concat_tables(pq.read_table(f) for f in files))
        full = sort_rows(
            flight_table(
                url, f"select {COLUMNS} from {FIREHOSE}.logs where block_num <= {ends[2]}"
            )
        )
        assert exported.num_rows == full.num_rows > 0
        assert exported.schema == full.schema
        assert exported.equals(full)

        # failed runs change nothing: one the server refuses to plan, and one that fails while
        # its rows stream in (after the export file was opened)
        wait_for_head_above(url, ends[2])
        export_dir = Path(root) / "exports" / "default"
        failed = self.run_transfers(
            "--vars", "{extra_filter: 'and no_such_column = 1'}", expect_pass=False
        )
        assert failed.status == "error" and "no_such_column" in failed.message
        mid_stream = "and cast(case when block_num > 0 then 'abc' else '1' end as bigint) = 1"
        results, log = run_dbt_and_capture(
            ["--debug", "run", "-s", "transfers", "--vars", f'{{extra_filter: "{mid_stream}"}}'],
            expect_pass=False,
        )
        assert "Cannot cast string 'abc'" in results[0].message
        assert f"Exporting the rows of transfers to {export_dir}" in log  # the file was begun
        assert progress(root, "transfers") == {"mainnet": (0, ends[2])}
        assert exports(root, "transfers") == files
        assert not list(export_dir.glob(".*"))  # and its temporary file removed

        # --full-refresh: state and exports start over from block 0
        refreshed = self.run_transfers("--full-refresh")
        assert "where block_num >" not in refreshed.node.compiled_code
        (rng,) = refreshed.adapter_response["processed_ranges"]
        assert rng["start"] == 0 and rng["end"] > ends[2]
        assert progress(root, "transfers") == {"mainnet": (0, rng["end"])}
        assert [f.name for f in exports(root, "transfers")] == [
            f"transfers.mainnet.{0:012d}-{rng['end']:012d}.parquet"
        ]
        # and the next run continues from there
        wait_for_head_above(url, rng["end"])
        after = self.run_transfers()
        assert after.adapter_response["processed_ranges"][0]["start"] == rng["end"] + 1
        assert len(exports(root, "transfers")) == 2

    def test_compile_show_and_empty_runs_never_write(self, project, follow_server):
        root = project.project_root
        if not progress(root, "transfers"):  # when run on its own
            self.run_transfers()
        before, files = progress(root, "transfers"), exports(root, "transfers")
        (node,) = run_dbt(["compile", "-s", "transfers"])
        last = before["mainnet"][1]
        assert f"where block_num > {last}" in node.node.compiled_code
        run_dbt(["show", "-s", "transfers", "--limit", "1"])
        # --empty limits the source to no rows while Amp still reports the whole range: recording
        # it would skip blocks that were never read
        wait_for_head_above(follow_server.flight_url, last)
        empty = self.run_transfers("--empty")
        assert empty.adapter_response["rows"] == 0
        assert empty.adapter_response.get("processed_ranges") is None
        assert progress(root, "transfers") == before
        assert exports(root, "transfers") == files


N_MODELS = 6


def numbered(i: int) -> str:
    return BLOCKS.replace("select block_num", f"select block_num, {i} as model_number")


class TestThreadsAndProcesses(FollowProject):
    @pytest.fixture(scope="class")
    def models(self):
        models = {"sources.yml": SOURCES}
        models.update({f"inc{i}.sql": numbered(i) for i in range(N_MODELS)})
        return models

    def test_four_threads_keep_separate_progress(self, project, follow_server):
        root = project.project_root
        results = run_dbt(["run", "--threads", "4"])
        assert len(results) == N_MODELS and all(r.status == "success" for r in results)
        ends = {r.node.name: r.adapter_response["processed_ranges"][0]["end"] for r in results}
        for r in results:  # blocks has one row per block: rows == blocks processed
            assert r.adapter_response["rows"] == ends[r.node.name] + 1
        wait_for_head_above(follow_server.flight_url, max(ends.values()), table="blocks")
        again = run_dbt(["run", "--threads", "4"])
        assert all(r.status == "success" for r in again)
        for r in again:
            (rng,) = r.adapter_response["processed_ranges"]
            assert rng["start"] == ends[r.node.name] + 1
            assert r.adapter_response["rows"] == rng["end"] - rng["start"] + 1
            assert progress(root, r.node.name) == {"mainnet": (0, rng["end"])}

    def test_two_dbt_processes_write_state_at_once(self, project):
        """Two `dbt run` processes on the same project (different models) at the same time."""
        root = Path(project.project_root)
        before = {f"inc{i}": progress(root, f"inc{i}")["mainnet"][1] for i in range(N_MODELS)}
        halves = [
            [f"inc{i}" for i in range(0, N_MODELS, 2)],
            [f"inc{i}" for i in range(1, N_MODELS, 2)],
        ]
        procs = [
            subprocess.Popen(
                [
                    sys.executable, "-m", "dbt.cli.main", "run", "--threads", "4",
                    "--project-dir", str(root), "--profiles-dir", str(project.profiles_dir),
                    "--target-path", f"target_{n}", "--log-path", f"logs_{n}", "-s", *models,
                ],
                cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            for n, models in enumerate(halves)
        ]  # fmt: skip
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        for p, out in zip(procs, outputs, strict=True):
            assert p.returncode == 0, out
            assert "database is locked" not in out
        for name, last in before.items():
            assert progress(root, name)["mainnet"][1] >= last


class TestConfigErrors(FollowProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sources.yml": SOURCES,
            "merge_strategy.sql": "{{ config(materialized='query', incremental_strategy='merge') }}"
            "\nselect 1 as x",
            "unguarded.sql": "{{ config(materialized='query', incremental_strategy='block_range') }}"
            "\nselect block_num from {{ source('eth', 'blocks') }}"
            " where block_num > {{ last_processed_block() }}",
            "bad_export.sql": "{{ config(materialized='query', export=42) }}\nselect 1 as x",
            "no_ranges.sql": "{{ config(materialized='query', export=true) }}\nselect 1 as x",
            "never_filters.sql": "{{ config(materialized='query', incremental_strategy='block_range')"
            " }}\nselect count(*) as n from {{ source('eth', 'blocks') }}",
            "not_query.sql": "{{ config(materialized='ephemeral', incremental_strategy='block_range')"
            " }}\n{% if is_incremental() %}select 1 as x{% else %}select 2 as x{% endif %}",
            "uses_not_query.sql": "{{ config(materialized='query') }}\nselect * from {{ ref('not_query') }}",
        }

    def test_each_mistake_one_clear_message(self, project):
        results, log = run_dbt_and_capture(["run"], expect_pass=False)
        msg = messages(results)
        assert statuses(results) == {
            "merge_strategy": "error",
            "unguarded": "error",
            "bad_export": "error",
            "no_ranges": "error",
            "never_filters": "success",
            "uses_not_query": "skipped",  # dbt's status when an ephemeral input fails to compile
        }, msg
        assert "incremental_strategy='merge', which dbt-amp does not have" in msg["merge_strategy"]
        assert "incremental_strategy='block_range'" in msg["merge_strategy"]
        assert "no successful run yet" in msg["unguarded"]
        assert "{% if is_incremental() %}" in msg["unguarded"]
        assert "export=42" in msg["bad_export"] and "export: true" in msg["bad_export"]
        assert "Amp reported no block range" in msg["no_ranges"]
        assert "not_query" in msg["uses_not_query"]
        assert "block_range' but is materialized='ephemeral'" in log
        assert "never calls is_incremental() or last_processed_block()" in log
        # a refused model writes neither state nor files
        assert progress(project.project_root, "unguarded") == {}
        assert not exports(project.project_root, "no_ranges")
        # materialized='incremental' stays refused, and says what to use
        (Path(project.project_root) / "models" / "inc_mat.sql").write_text(
            "{{ config(materialized='incremental') }}\nselect 1 as x"
        )
        (result,) = run_dbt(["run", "-s", "inc_mat"], expect_pass=False)
        assert "incremental_strategy='block_range'" in result.message

    def test_export_folder_without_state_is_refused(self, project):
        root = Path(project.project_root)
        (root / "models" / "kept.sql").write_text(TRANSFERS.replace("transfers", "kept"))
        (ok,) = run_dbt(["run", "-s", "kept"])
        assert len(exports(root, "kept")) == 1
        with open_state(root) as conn:  # state.db lost, the files still there
            conn.execute("DELETE FROM block_range_progress")
        (refused,) = run_dbt(["run", "-s", "kept"], expect_pass=False)
        assert "already holds 1 file(s) of this model" in refused.message
        assert "--full-refresh" in refused.message
        (fresh,) = run_dbt(["run", "-s", "kept", "--full-refresh"])
        assert fresh.status == "success" and len(exports(root, "kept")) == 1


class TestTokenNeverStored:
    """The token reaches the server on every query, but no byte of it lands in state.db (nor
    its WAL) or in the exports."""

    TOKEN = "s3cret-test-token"

    @pytest.fixture(scope="class")
    def dbt_profile_target(self, amp_server_with_token):
        return amp_target(amp_server_with_token, token=self.TOKEN)

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"test": {"+materialized": "ephemeral"}}}

    @pytest.fixture(scope="class")
    def models(self):
        sources = SOURCES.replace("1.0.0", "0.0.0")  # Amp's real snapshot, served with the token
        return {"sources.yml": sources, "transfers.sql": TRANSFERS}

    def test_token_not_in_state_or_exports(self, project):
        for _ in range(2):
            (result,) = run_dbt(["run"])
            assert result.status == "success" and result.adapter_response["rows"] >= 0
        assert progress(project.project_root, "transfers")
        files = [p for p in (Path(project.project_root) / ".amp-dbt").iterdir() if p.is_file()]
        assert any(p.name == "state.db" for p in files)
        for path in [*files, *exports(project.project_root, "transfers")]:
            assert self.TOKEN.encode() not in path.read_bytes(), path
        with open_state(project.project_root) as conn:
            dump = "\n".join(conn.iterdump())
        assert self.TOKEN not in dump


UNIT_TESTS = """
unit_tests:
  - name: blocks_incremental
    model: blocks_inc
    overrides:
      macros: {is_incremental: true, last_processed_block: 5}
    given:
      - input: source('eth', 'blocks')
        rows: [{block_num: 4}, {block_num: 5}, {block_num: 6}, {block_num: 7}]
    expect:
      rows: [{block_num: 6}, {block_num: 7}]
  - name: blocks_full
    model: blocks_inc
    overrides:
      macros: {is_incremental: false}
    given:
      - input: source('eth', 'blocks')
        rows: [{block_num: 4}, {block_num: 5}]
    expect:
      rows: [{block_num: 4}, {block_num: 5}]
  - name: blocks_no_override
    model: blocks_inc
    given:
      - input: source('eth', 'blocks')
        rows: [{block_num: 4}]
    expect:
      rows: [{block_num: 4}]
"""


class TestUnitTests(FollowProject):
    """dbt unit tests of a block-range model: `overrides: macros:` sets is_incremental() and
    last_processed_block(); without them the model is tested as a first (full) run."""

    @pytest.fixture(scope="class")
    def models(self):
        return {"sources.yml": SOURCES, "blocks_inc.sql": BLOCKS, "unit.yml": UNIT_TESTS}

    def test_unit_tests_override_the_macros(self, project):
        results = run_dbt(["test", "--select", "test_type:unit"])
        assert statuses(results) == {
            "blocks_incremental": "pass",
            "blocks_full": "pass",
            "blocks_no_override": "pass",
        }
        assert progress(project.project_root, "blocks_inc") == {}
