"""amp_local's Flight surface is Amp's (PROTOCOL §1.3-1.8), checked over real sockets.

Clients used: the official ADBC Flight SQL driver (what the adapter uses) and pyarrow.flight (to see
the raw RPCs, status codes and `app_metadata` that ADBC hides).
"""

from __future__ import annotations

import json

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest

from amp_local import protowire as pw
from amp_local.bundled import SNAPSHOTS_DIR as SNAPSHOTS
from tests.functional.flight_client import chunks, statement_descriptor


@pytest.fixture(scope="module")
def adbc(amp_server):
    conn = flightsql.connect(amp_server.flight_url, autocommit=True)
    yield conn
    conn.close()


def query(conn, sql: str) -> pa.Table:
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table()


def read_all_chunks(client, sql: str, headers=()) -> tuple[pa.Schema, list[tuple[int, dict]]]:
    messages = list(chunks(client, sql, headers))
    schema = messages[0][0].schema
    return schema, [(batch.num_rows, meta) for batch, meta in messages]


# --- what works --------------------------------------------------------------------------------


def test_adbc_cursor_execute_works(adbc):
    table = query(adbc, "SELECT 1 AS one, 'a' AS s")
    assert table.to_pylist() == [{"one": 1, "s": "a"}]


def test_quoted_dataset_reference_and_latest_alias(adbc):
    full = query(adbc, 'SELECT count(*) AS n FROM "_/eth_rpc@0.0.0".logs').column("n")[0].as_py()
    assert full == 719  # the real mainnet snapshot
    # `name.table` means `_/name@latest`: the highest semver tag (1.0.0 = the synthetic chain)
    latest = query(adbc, "SELECT min(block_num) AS lo FROM eth_rpc.blocks").column("lo")[0].as_py()
    tagged = query(adbc, 'SELECT min(block_num) AS lo FROM "_/eth_rpc@1.0.0".blocks')
    assert latest == tagged.column("lo")[0].as_py()
    assert latest != 15_000_000


def test_manifest_hash_revision(adbc):
    manifest = json.loads((SNAPSHOTS / "eth_rpc" / "manifest.json").read_text())
    from amp_local.schemas import manifest_hash

    digest = manifest_hash(manifest)
    table = query(adbc, f'SELECT count(*) AS n FROM "_/eth_rpc@{digest}".transactions')
    assert table.column("n")[0].as_py() == 348


def test_raw_schemas_are_amps(adbc):
    schema = query(adbc, 'SELECT * FROM "_/eth_firehose@0.0.0".logs LIMIT 0').schema
    expected = pq.read_schema(next((SNAPSHOTS / "eth_firehose" / "logs").glob("*.parquet")))
    assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in expected]


# --- app_metadata ------------------------------------------------------------------------------


def test_app_metadata_ranges_on_real_block(client):
    blocks = pq.read_table(next((SNAPSHOTS / "eth_rpc" / "blocks").glob("*.parquet")))
    block = blocks.to_pylist()[0]
    schema, chunks = read_all_chunks(
        client, 'SELECT block_num, log_index FROM "_/eth_rpc@0.0.0".logs'
    )
    assert schema.names == ["block_num", "log_index"]
    *data, final = chunks
    assert sum(rows for rows, _ in data) == 719
    expected = [
        {
            "numbers": {"start": 15_000_000, "end": 15_000_000},
            "network": "mainnet",
            "hash": "0x" + block["hash"].hex(),
            "prev_hash": "0x" + block["parent_hash"].hex(),
            "timestamp": int(block["timestamp"].timestamp()),
        }
    ]
    for _, meta in data:
        assert meta == {"ranges": expected, "ranges_complete": False}
    assert final == (0, {"ranges": expected, "ranges_complete": True})


def test_app_metadata_intersects_ranges_per_network(client):
    _, chunks = read_all_chunks(
        client,
        'SELECT count(*) AS n FROM "_/eth_rpc@1.0.0".blocks b, "_/base_rpc@0.0.0".blocks c',
    )
    networks = sorted(r["network"] for r in chunks[-1][1]["ranges"])
    assert networks == ["base", "mainnet"]
    base = next(r for r in chunks[-1][1]["ranges"] if r["network"] == "base")
    assert base["numbers"] == {"start": 33_411_770, "end": 33_411_770}


def test_empty_result_still_sends_a_batch(client):
    _, chunks = read_all_chunks(client, "SELECT block_num FROM eth_rpc.blocks WHERE false")
    assert [rows for rows, _ in chunks] == [0, 0]
    assert [m["ranges_complete"] for _, m in chunks] == [False, True]


def test_large_batches_are_sliced_under_2mib(client):
    sql = "SELECT repeat('x', 1000) AS s FROM unnest(range(10000)) AS t(i)"
    messages = list(chunks(client, sql))
    sizes = [(batch.num_rows, batch.nbytes) for batch, _ in messages]
    metadata = {json.dumps(meta, sort_keys=True) for _, meta in messages}
    assert sum(rows for rows, _ in sizes) == 10_000
    assert len(sizes) > 5  # ~10 MB of strings does not travel as one message
    assert max(nbytes for _, nbytes in sizes) <= 2 * 1024 * 1024 + 64 * 1024
    assert len(metadata) == 2  # the data batches share one app_metadata; the final one differs


# --- what Amp refuses --------------------------------------------------------------------------


def test_adbc_catalog_calls_fail_like_amp(adbc):
    with pytest.raises(
        adbc_driver_manager.ProgrammingError, match="unsupported flight descriptor command"
    ):
        adbc.adbc_get_objects(depth="tables").read_all()
    with pytest.raises(adbc_driver_manager.ProgrammingError, match="CommandGetTables"):
        adbc.adbc_get_table_schema("logs", db_schema_filter="_/eth_rpc@0.0.0")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: list(c.do_action(flight.Action("CreatePreparedStatement", b""))),
        lambda c: list(c.list_actions()),
        lambda c: list(c.list_flights()),
        lambda c: c.get_schema(statement_descriptor("SELECT 1")),
    ],
    ids=["DoAction", "ListActions", "ListFlights", "GetSchema"],
)
def test_other_rpcs_are_unimplemented(client, call):
    with pytest.raises(pa.ArrowNotImplementedError):
        call(client)


def test_raw_sql_bytes_are_a_decode_error(client):
    with pytest.raises(pa.ArrowInvalid, match="ProtocolBuffers decoding error"):
        client.get_flight_info(flight.FlightDescriptor.for_command(b"SELECT 1"))


def test_path_descriptor_is_refused(client):
    with pytest.raises(pa.ArrowInvalid, match="unsupported flight descriptor type"):
        client.get_flight_info(flight.FlightDescriptor.for_path("eth_rpc", "logs"))


def test_other_flight_sql_commands_are_invalid_argument(client):
    url = "type.googleapis.com/arrow.flight.protocol.sql.CommandGetSqlInfo"
    descriptor = flight.FlightDescriptor.for_command(pw.encode_any(url, b""))
    with pytest.raises(pa.ArrowInvalid, match="CommandGetSqlInfo"):
        client.get_flight_info(descriptor)


@pytest.mark.parametrize(
    ("sql", "error", "text"),
    [
        ("SELEC 1", adbc_driver_manager.ProgrammingError, "ParserError"),
        ("SELECT 1; SELECT 2", adbc_driver_manager.ProgrammingError, "single SQL statement"),
        ("SELECT 1 AS _hidden", adbc_driver_manager.ProgrammingError, "Underscore-prefixed"),
        (
            "SELECT * FROM amp.eth_rpc.logs",
            adbc_driver_manager.ProgrammingError,
            "Catalog-qualified",
        ),
        ("SELECT * FROM logs", adbc_driver_manager.ProgrammingError, "not qualified by a dataset"),
        (
            'SELECT * FROM "_/Eth@1.0.0".logs',
            adbc_driver_manager.ProgrammingError,
            "invalid dataset name",
        ),
        (
            'SELECT * FROM "_/eth_rpc@one".logs',
            adbc_driver_manager.ProgrammingError,
            "invalid revision",
        ),
        ("SELECT * FROM nope.logs", adbc_driver_manager.InternalError, "not found"),
        ('SELECT * FROM "_/eth_rpc@9.9.9".logs', adbc_driver_manager.InternalError, "not found"),
        ("SELECT * FROM eth_rpc.calls", adbc_driver_manager.InternalError, "not found"),
        ("SELECT nope FROM eth_rpc.logs", adbc_driver_manager.InternalError, "nope"),
        ("CREATE TABLE x AS SELECT 1", adbc_driver_manager.ProgrammingError, "DDL not supported"),
        (
            "SELECT block_num() FROM eth_rpc.logs",
            adbc_driver_manager.ProgrammingError,
            "streaming",
        ),
    ],
)
def test_errors_have_amps_classes(adbc, sql, error, text):
    with pytest.raises(error, match=text) as info:
        query(adbc, sql)
    assert "Traceback" not in str(info.value)


def test_connection_survives_errors(adbc):
    with pytest.raises(adbc_driver_manager.ProgrammingError):
        query(adbc, "SELEC 1")
    assert query(adbc, "SELECT 2 AS two").column("two")[0].as_py() == 2


# --- bearer token --------------------------------------------------------------------------------


def test_token_enforced_only_when_configured(amp_server_with_token):
    url = amp_server_with_token.flight_url
    for headers in ({}, {"adbc.flight.sql.authorization_header": "Bearer wrong"}):
        with flightsql.connect(url, db_kwargs=headers, autocommit=True) as conn:
            with pytest.raises(adbc_driver_manager.ProgrammingError, match="UNAUTHENTICATED"):
                query(conn, "SELECT 1 AS one")
    for scheme in ("Bearer", "bearer"):  # auth schemes are case-insensitive
        good = {"adbc.flight.sql.authorization_header": f"{scheme} {amp_server_with_token.token}"}
        with flightsql.connect(url, db_kwargs=good, autocommit=True) as conn:
            assert query(conn, "SELECT 1 AS one").num_rows == 1


def test_sql_only_datafusion_parses_still_follows_amps_rules(adbc, client):
    # backtick identifiers: DataFusion's parser accepts them, sqlglot's Postgres dialect does not
    table = query(adbc, 'SELECT count(*) AS `n` FROM "_/eth_rpc@0.0.0".logs')
    assert table.to_pylist() == [{"n": 719}]
    _, chunks = read_all_chunks(client, 'SELECT count(*) AS `n` FROM "_/eth_rpc@0.0.0".logs')
    assert chunks[-1][1]["ranges"][0]["numbers"]["start"] == 15_000_000
    with pytest.raises(adbc_driver_manager.ProgrammingError, match="Underscore-prefixed"):
        query(adbc, "SELECT 1 AS `_n` FROM eth_rpc.logs")
    with pytest.raises(adbc_driver_manager.ProgrammingError, match="Catalog-qualified"):
        query(adbc, 'SELECT count(*) AS `n` FROM amp."_/eth_rpc@0.0.0".logs')


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM (SELECT 1 AS a) AS t(_a)",
        "WITH c(_a) AS (SELECT 1) SELECT * FROM c",
        "SELECT * FROM unnest([1, 2]) AS u(_x)",
    ],
)
def test_underscore_names_in_column_alias_lists_are_refused(adbc, sql):
    with pytest.raises(adbc_driver_manager.ProgrammingError, match="Underscore-prefixed"):
        query(adbc, sql)


def test_undecodable_descriptor_is_invalid_argument(client):
    with pytest.raises(pa.ArrowInvalid, match="ProtocolBuffers decoding error"):
        client.get_flight_info(flight.FlightDescriptor.for_command(b"\xff\xff\xff"))


def test_empty_sql_is_an_invalid_query(client):
    with pytest.raises(pa.ArrowInvalid, match="query is empty"):
        client.get_flight_info(statement_descriptor("   "))


def test_settings_stream_other_than_true_is_batch(client):
    _, chunks = read_all_chunks(client, "SELECT 1 AS one SETTINGS stream = 1")
    assert [m["ranges_complete"] for _, m in chunks] == [False, True]
