"""dbt-amp against an independent DataFusion Flight SQL server: roapi (`pip install roapi`).

roapi runs a query to answer GetFlightInfo, and for a result without rows it returns a schema
without columns. Amp never does that (it plans without executing), so amp_local cannot show what
happens when dbt-amp trusts such a schema: a wrong contract built OK (both sides had zero columns),
unit tests failed with "Accepted columns for expected output are: []", `dbt show` of an empty
result printed nothing and empty tables vanished from the catalog.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture

from tests.functional.adapter.projects import messages, results_by_name, statuses

LOGS = pa.table(
    {
        "block_num": pa.array([1, 2, 3], pa.uint64()),
        "address": pa.array([b"\x0a" * 20, b"\x0b" * 20, b"\x0a" * 20], pa.binary(20)),
        "amount": pa.array(["5", "7", "11"], pa.string()),
    }
)
SOURCES = """
version: 2
sources:
  - name: roapi
    schema: public
    tables: [{name: logs}, {name: empty_logs}]
"""
SELECT = "select block_num, address from {{ source('roapi', 'logs') }}"
CONTRACT = """
      - {name: block_num, data_type: bigint unsigned}
      - {name: address, data_type: FixedSizeBinary(20)}
"""
PROPERTIES = f"""
version: 2
models:
  - name: contract_ok
    config: {{contract: {{enforced: true}}}}
    columns: {CONTRACT}
  - name: contract_wrong_type
    config: {{contract: {{enforced: true}}}}
    columns: {CONTRACT.replace("FixedSizeBinary(20)", "varchar")}
  - name: contract_extra_column
    config: {{contract: {{enforced: true}}}}
    columns: {CONTRACT}
      - {{name: nope, data_type: bigint}}
unit_tests:
  - name: big_blocks
    model: late_logs
    given:
      - input: source('roapi', 'logs')
        rows:
          - {{block_num: 1, address: "0x{"0a" * 20}"}}
          - {{block_num: 9, address: "0x{"0b" * 20}"}}
    expect:
      rows:
        - {{block_num: 9, address: "0x{"0b" * 20}"}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _roapi_binary() -> str:
    found = shutil.which("roapi") or shutil.which("roapi", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail(
            "roapi is not installed: it comes with the test extra, pip install -e '.[test]'"
        )
    return found


@pytest.fixture(scope="module")
def roapi_url(tmp_path_factory):
    """`roapi --addr-flight-sql 127.0.0.1:PORT -t logs=... -t empty_logs=...` on a free port."""
    data = tmp_path_factory.mktemp("roapi")
    pq.write_table(LOGS, data / "logs.parquet")
    pq.write_table(LOGS.slice(0, 0), data / "empty_logs.parquet")
    port = _free_port()
    args = [_roapi_binary(), "--addr-flight-sql", f"127.0.0.1:{port}"]
    args += ["-a", "127.0.0.1:0", "-p", "127.0.0.1:0"]  # its HTTP and Postgres listeners
    args += [
        "-t",
        f"logs={data / 'logs.parquet'}",
        "-t",
        f"empty_logs={data / 'empty_logs.parquet'}",
    ]
    log = (data / "roapi.log").open("w")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"roapi did not start: {(data / 'roapi.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield f"grpc://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=15)
    log.close()


class TestAgainstRoapi:
    @pytest.fixture(scope="class")
    def dbt_profile_target(self, roapi_url):
        return {"type": "amp", "threads": 2, "query_url": roapi_url, "schema": "roapi"}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+materialized": "query"}}

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sources.yml": SOURCES,
            "properties.yml": PROPERTIES,
            "contract_ok.sql": SELECT,
            "contract_wrong_type.sql": SELECT,
            "contract_extra_column.sql": SELECT,
            "late_logs.sql": SELECT + " where block_num > 5",
        }

    def test_contracts_are_checked(self, project):
        results = run_dbt(["run"], expect_pass=False)
        by_name = results_by_name(results)
        assert statuses(results) == {
            "contract_ok": "success",
            "contract_wrong_type": "error",
            "contract_extra_column": "error",
            "late_logs": "success",
        }, messages(results)
        assert "data type mismatch" in by_name["contract_wrong_type"].message
        assert "nope" in by_name["contract_extra_column"].message
        assert by_name["late_logs"].adapter_response["rows"] == 0

    def test_unit_tests_pass(self, project):
        results = run_dbt(["test", "--select", "test_type:unit"])
        assert [str(r.status) for r in results] == ["pass"]

    def test_show_of_an_empty_result_prints_headers(self, project):
        _, output = run_dbt_and_capture(
            ["show", "--inline", "select block_num, amount from public.logs where block_num > 99"]
        )
        assert "| block_num | amount |" in output, output

    def test_docs_list_empty_tables(self, project):
        run_dbt(["docs", "generate"])
        catalog = json.loads((Path(project.project_root) / "target" / "catalog.json").read_text())
        empty = catalog["sources"]["source.test.roapi.empty_logs"]["columns"]
        assert {name: col["type"] for name, col in empty.items()} == {
            "block_num": "BIGINT UNSIGNED",
            "address": "FixedSizeBinary(20)",
            "amount": "VARCHAR",
        }
