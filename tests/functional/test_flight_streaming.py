"""Streaming queries over Flight (PROTOCOL §1.6-1.7): microbatches, commit points, resume, follow."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from amp_local.launcher import start_amp_local
from tests.functional.flight_client import chunks, connect, flight_status, statement_descriptor


def stream_until(client, sql, stop, headers=(), timeout=60.0):
    """(schema, [(block_nums, metadata)]): the stream read until `stop(read)`, then cancelled."""
    read, schema = [], None
    messages = chunks(client, sql, headers, timeout)
    for batch, meta in messages:
        schema = schema or batch.schema
        read.append((batch.column(0).to_pylist(), meta))
        if stop(read):
            break
    messages.close()
    return schema, read


def commits(read):
    return [meta["ranges"][0]["numbers"] for _, meta in read if meta["ranges_complete"]]


def test_stream_emits_microbatches_with_commit_points(client):
    # the test chain has 2,000 blocks: two microbatches of at most 1,000 blocks
    sql = 'SELECT block_num FROM "_/eth_rpc@1.0.0".blocks SETTINGS stream = true'
    schema, read = stream_until(client, sql, lambda c: len(commits(c)) == 2)
    assert schema.names == ["block_num"]
    first, second = commits(read)
    assert first["end"] - first["start"] + 1 == 1000
    assert second["start"] == first["end"] + 1
    seen = sorted(b for blocks, meta in read if not meta["ranges_complete"] for b in blocks)
    assert seen == list(range(first["start"], second["end"] + 1))


def test_amp_stream_header_and_resume_cursor(client):
    sql = 'SELECT block_num FROM "_/eth_rpc@1.0.0".blocks'
    _, read = stream_until(
        client, sql, lambda c: len(commits(c)) == 1, headers=[(b"amp-stream", b"true")]
    )
    first = next(meta for _, meta in read if meta["ranges_complete"])["ranges"][0]
    cursor = {first["network"]: {"number": first["numbers"]["end"], "hash": first["hash"]}}
    _, resumed = stream_until(
        client,
        sql,
        lambda c: len(commits(c)) == 1,
        headers=[(b"amp-stream", b"1"), (b"amp-resume", json.dumps(cursor).encode())],
    )
    assert commits(resumed)[0]["start"] == first["numbers"]["end"] + 1


def test_non_incremental_streaming_query_fails_at_doget(client):
    sql = 'SELECT count(*) AS n FROM "_/eth_rpc@1.0.0".blocks SETTINGS stream = true'
    info = client.get_flight_info(statement_descriptor(sql))  # planning succeeds, like Amp
    with pytest.raises(pa.ArrowInvalid, match="non-incremental operation: Aggregate"):
        client.do_get(info.endpoints[0].ticket).read_all()


@pytest.fixture(scope="module")
def following(tmp_path_factory):
    """A server whose chain grows by a block every 20 ms."""
    server = start_amp_local(
        tmp_path_factory.mktemp("follow"),
        blocks=50,
        snapshots=False,
        extra_args=["--follow", "0.02"],
    )
    yield server
    assert server.stop() == 0


def test_stream_follows_the_chain_head(following):
    with connect(following.flight_url) as client:
        sql = 'SELECT block_num FROM "_/eth_firehose@1.0.0".blocks SETTINGS stream = true'
        _, read = stream_until(client, sql, lambda c: any(r["end"] >= 80 for r in commits(c)))
    seen = sorted(b for blocks, _ in read for b in blocks)
    assert seen[:81] == list(range(81))  # the generated 50 blocks, then new ones at the head


def test_batch_rows_match_their_ranges_while_the_head_moves(following):
    # rows and `ranges` must describe the same snapshot, even as new segments land mid-query
    sql = 'SELECT max(block_num) AS head, count(*) AS n FROM "_/eth_rpc@1.0.0".blocks'
    with connect(following.flight_url) as client:
        for _ in range(30):
            messages = list(chunks(client, sql))
            rows = [row for batch, _ in messages for row in batch.to_pylist()]
            ranges = messages[-1][1]["ranges"]
            numbers = ranges[0]["numbers"]
            assert rows == [{"head": numbers["end"], "n": numbers["end"] - numbers["start"] + 1}]


JOIN_SQL = """
    SELECT l.block_num AS lb, l.log_index, b.block_num AS bb, block_num() AS bn
    FROM "_/eth_rpc@1.0.0".logs l JOIN "_/eth_rpc@1.0.0".blocks b ON b.block_num = l.block_num - 5
"""


def test_streaming_join_finds_matches_across_microbatches(client):
    # logs of blocks 1000-1004 match blocks 995-999 of the previous microbatch
    rows = []
    messages = chunks(client, JOIN_SQL + " SETTINGS stream = true", timeout=60)
    commits_seen = 0
    for batch, meta in messages:
        rows += batch.to_pylist()
        commits_seen += meta["ranges_complete"]
        if commits_seen == 2:  # the test chain's 2,000 blocks
            break
    messages.close()
    batch_rows = [
        row
        for batch, _ in chunks(client, JOIN_SQL.replace("block_num() AS bn", "0 AS bn"))
        for row in batch.to_pylist()
    ]
    assert sorted((r["lb"], r["log_index"], r["bb"]) for r in rows) == sorted(
        (r["lb"], r["log_index"], r["bb"]) for r in batch_rows
    )
    assert any(1000 <= r["lb"] < 1005 for r in rows)
    # block_num() over a join is GREATEST(left._block_num, right._block_num)
    assert all(r["bn"] == max(r["lb"], r["bb"]) for r in rows)


def test_streaming_self_join_is_refused_clearly(client):
    sql = """SELECT a.block_num AS x FROM "_/eth_rpc@1.0.0".blocks a
             JOIN "_/eth_rpc@1.0.0".blocks b ON b.block_num = a.block_num SETTINGS stream = true"""
    info = client.get_flight_info(statement_descriptor(sql))
    with pytest.raises(pa.ArrowInvalid, match="cannot stream this join"):
        client.do_get(info.endpoints[0].ticket).read_all()


def test_streaming_errors_carry_amps_message_not_a_traceback(client):
    # a UInt64 column converts only to uintN: Amp refuses it while computing the microbatch
    sql = """SELECT evm_encode_type(block_num, 'int8') AS v FROM "_/eth_rpc@1.0.0".blocks
             SETTINGS stream = true"""
    info = client.get_flight_info(statement_descriptor(sql))
    with pytest.raises(pa.ArrowException) as error:
        client.do_get(info.endpoints[0].ticket).read_all()
    assert flight_status(error.value) == (
        "INTERNAL",
        "streaming query execution error: Error during planning: expected uint type, got int8",
    )


@pytest.mark.parametrize(
    "cursor",
    [
        '{"mainnet": 5}',
        '{"mainnet": {}}',
        '{"mainnet": {"number": "abc", "hash": "0x00"}}',
        '{"mainnet": {"number": 5, "hash": "0x00"}}',
        "not json",
    ],
)
def test_malformed_resume_cursors_are_ignored(client, cursor):
    sql = 'SELECT block_num FROM "_/eth_rpc@1.0.0".blocks'
    headers = [(b"amp-stream", b"true"), (b"amp-resume", cursor.encode())]
    _, read = stream_until(client, sql, lambda c: len(commits(c)) == 1, headers=headers)
    assert commits(read)[0]["start"] == 0  # from the first block, as without a cursor


def test_many_open_streams_do_not_starve_queries(amp_server, client):
    sql = 'SELECT block_num FROM "_/eth_rpc@1.0.0".blocks SETTINGS stream = true'
    readers = []
    try:
        for _ in range(24):  # each holds a server thread while it waits for new blocks
            info = client.get_flight_info(statement_descriptor(sql))
            reader = client.do_get(info.endpoints[0].ticket)
            reader.read_chunk()
            readers.append(reader)
        options = flight.FlightCallOptions(timeout=20)
        info = client.get_flight_info(statement_descriptor("SELECT 1 AS one"), options)
        assert client.do_get(info.endpoints[0].ticket, options).read_all().num_rows == 1
    finally:
        for reader in readers:
            reader.cancel()


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """A chain written as one 300-block segment file per table and then a file per appended
    block (the follower appends a block every 10 ms), as in `--blocks 300 --follow`."""
    server = start_amp_local(
        tmp_path_factory.mktemp("segmented"),
        blocks=300,
        snapshots=False,
        extra_args=["--follow", "0.01"],
    )
    yield server
    assert server.stop() == 0


def first_microbatch(client, sql: str) -> tuple[list[dict], dict]:
    """The rows of the first microbatch of a streaming query, and its range."""
    rows = []
    messages = chunks(client, sql, headers=[(b"amp-stream", b"true")], timeout=60)
    for batch, meta in messages:
        if meta["ranges_complete"]:
            messages.close()
            return rows, meta["ranges"][0]["numbers"]
        rows += batch.to_pylist()
    raise AssertionError("the stream ended before its first commit point")


@pytest.mark.parametrize(
    ("sql", "block_of"),
    [
        ('SELECT block_num, hash FROM "_/eth_rpc@1.0.0".blocks', lambda r: r["block_num"]),
        (
            'SELECT _block_num, log_index FROM "_/eth_rpc@1.0.0".logs WHERE log_index = 0',
            lambda r: r["_block_num"],
        ),
        (
            """SELECT l.block_num AS lb, block_num() AS bn FROM "_/eth_rpc@1.0.0".logs l
               JOIN "_/eth_rpc@1.0.0".blocks b ON b.block_num = l.block_num - 3""",
            lambda r: r["bn"],
        ),
        (
            """SELECT _block_num, count(*) AS n FROM "_/eth_rpc@1.0.0".logs
               GROUP BY _block_num""",
            lambda r: r["_block_num"],
        ),
        (  # no table in the outermost SELECT: ordered by reading tables in block order
            'SELECT * FROM (SELECT block_num FROM "_/eth_rpc@1.0.0".blocks) t',
            lambda r: r["block_num"],
        ),
    ],
    ids=["scan", "block_num_column", "join", "aggregate", "subquery"],
)
def test_microbatch_rows_are_in_block_order_across_segment_files(segmented, sql, block_of):
    time.sleep(0.5)  # let the follower write some single-block segment files after block 299
    with connect(segmented.flight_url) as client:
        rows, numbers = first_microbatch(client, sql)
    assert numbers["start"] == 0 and numbers["end"] > 300  # one microbatch over many files
    blocks = [block_of(r) for r in rows]
    assert blocks == sorted(blocks)
    assert blocks[0] <= 5 and blocks[-1] > 300
