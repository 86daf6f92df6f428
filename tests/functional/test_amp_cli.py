"""Amp's own client against amp_local: `amp query --flight-url` of the official CLI
(`@edgeandnode/amp` on npm, pinned), installed with npm into a cache folder on first use.

The CLI speaks Flight through connect-es (not pyarrow, not ADBC), so this checks amp_local's Flight
surface and Amp's error messages as Amp's users see them.
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import eth_abi
import pyarrow.parquet as pq

from amp_local.bundled import SNAPSHOTS_DIR as SNAPSHOTS

TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


def amp_query(amp_cli: Path, server, sql: str) -> subprocess.CompletedProcess:
    url = server.flight_url.replace("grpc://", "http://")  # the CLI dials gRPC over HTTP/2
    return subprocess.run(
        [str(amp_cli), "query", "--flight-url", url, "--format", "jsonl", sql],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_refused_query_shows_amps_message(amp_cli, amp_server):
    result = amp_query(amp_cli, amp_server, "SELECT 1 AS _hello")
    assert result.returncode != 0
    assert (
        "[invalid_argument] invalid plan | Caused by: Error during planning: expression contains "
        "a column alias starting with '_': '_hello'. Underscore-prefixed names are reserved. "
        "Please rename your column"
    ) in result.stderr
    failed = amp_query(amp_cli, amp_server, "SELECT shift_units('abc', 18) AS v")
    assert failed.returncode != 0
    assert (
        "[internal] query execution error | Caused by: Error during planning: shift_units: "
        "failed to parse value: invalid digit found in string"
    ) in failed.stderr


def test_udf_query_returns_the_right_rows(amp_cli, amp_server):
    sql = f"""
        SELECT log_index, evm_decode_hex(ev['from']) AS sender, evm_decode_hex(ev['to']) AS receiver,
               shift_units(ev['value'], -6) AS amount
        FROM (SELECT log_index, evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') AS ev
              FROM "_/eth_rpc@0.0.0".logs
              WHERE topic0 = evm_topic('{TRANSFER}') AND address = evm_encode_hex('{USDC}')) t
        ORDER BY log_index"""
    result = amp_query(amp_cli, amp_server, sql)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    logs = pq.read_table(next((SNAPSHOTS / "eth_rpc" / "logs").glob("*.parquet"))).to_pylist()
    topic = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
    expected = []
    for log in sorted(logs, key=lambda r: r["log_index"]):
        if log["topic0"] != topic or log["address"] != bytes.fromhex(USDC[2:]):
            continue
        (value,) = eth_abi.decode(["uint256"], log["data"])
        amount = Decimal(value).scaleb(-6).normalize()
        expected.append(
            {
                "log_index": log["log_index"],
                "sender": eth_abi.decode(["address"], log["topic1"])[0].lower(),
                "receiver": eth_abi.decode(["address"], log["topic2"])[0].lower(),
                "amount": "0" if amount.is_zero() else format(amount, "f"),
            }
        )
    assert len(expected) > 5
    assert rows == expected
