"""An exception amp_local did not expect (a bug) reaches clients as INTERNAL with a fixed message,
never as gRPC UNKNOWN or with Python text, and is logged with its traceback.

A real server has no such bug to trigger, so this test injects one (monkeypatching a UDF to raise
KeyError) into an in-process server.
"""

from __future__ import annotations

import logging

import httpx
import pyarrow as pa
import pytest

from amp_local import udf_runtime
from amp_local.bundled import SNAPSHOT_DATASETS
from amp_local.datasets import DatasetStore
from amp_local.engine import QueryEngine
from amp_local.errors import INTERNAL_ERROR_LOG, INTERNAL_ERROR_MESSAGE
from amp_local.flight import serve_flight
from amp_local.jsonl import serve_jsonl
from tests.functional.flight_client import connect, flight_status, statement_descriptor

SQL = 'SELECT evm_decode_hex(address) AS a FROM "_/eth_rpc@0.0.0".logs'


@pytest.fixture(scope="module")
def in_process_server():
    store = DatasetStore()
    store.add_raw_dataset("_", "eth_rpc", "0.0.0", SNAPSHOT_DATASETS["_/eth_rpc@0.0.0"])
    engine = QueryEngine(store)
    flight_server, flight_port = serve_flight(engine, "127.0.0.1", 0)
    jsonl_server, jsonl_port = serve_jsonl(engine, "127.0.0.1", 0)
    yield f"grpc://127.0.0.1:{flight_port}", f"http://127.0.0.1:{jsonl_port}"
    jsonl_server.shutdown()
    flight_server.stop(grace=1).wait()


def test_a_bug_is_internal_with_a_fixed_message(in_process_server, monkeypatch, caplog):
    def bug(self, values):
        raise KeyError("a bug")

    monkeypatch.setattr(udf_runtime.DecodeHex, "__call__", bug)
    flight_url, jsonl_url = in_process_server
    with caplog.at_level(logging.ERROR), connect(flight_url) as client:
        info = client.get_flight_info(statement_descriptor(SQL))
        with pytest.raises(pa.ArrowException) as error:
            client.do_get(info.endpoints[0].ticket).read_all()
    assert flight_status(error.value) == ("INTERNAL", INTERNAL_ERROR_MESSAGE)
    response = httpx.post(jsonl_url, content=SQL, timeout=30)
    assert response.status_code == 500
    assert response.json() == {"error_code": "INTERNAL", "error_message": INTERNAL_ERROR_MESSAGE}
    logged = [r for r in caplog.records if r.getMessage() == INTERNAL_ERROR_LOG]
    assert len(logged) == 2 and all(r.exc_info for r in logged)
    assert "KeyError" in caplog.text
