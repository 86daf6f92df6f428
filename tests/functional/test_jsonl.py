"""Amp's JSON Lines transport (PROTOCOL §1.9) over real HTTP, with httpx."""

from __future__ import annotations

import json

import httpx
import pytest


@pytest.fixture(scope="module")
def http(amp_server):
    with httpx.Client(base_url=amp_server.jsonl_url, timeout=30) as client:
        yield client


def test_rows_in_arrow_json_form(http):
    sql = """SELECT block_num, hash, timestamp, total_difficulty, base_fee_per_gas,
                    withdrawals_root, CAST(difficulty AS DECIMAL(38, 0)) AS difficulty
             FROM "_/eth_rpc@0.0.0".blocks"""
    response = http.post("/", content=sql)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    (line,) = response.text.splitlines()
    assert '"difficulty":13832157637341064' in line  # decimals are bare JSON numbers
    row = json.loads(line)
    assert row["block_num"] == 15_000_000
    assert len(row["hash"]) == 64 and not row["hash"].startswith("0x")  # binary: bare hex
    assert row["timestamp"].startswith("2022-06-21T")
    assert "withdrawals_root" not in row  # NULLs are omitted (pre-Shanghai block)


def test_structs_and_empty_results(http):
    sql = """SELECT evm_decode_log(topic1, topic2, topic3, data,
               'Transfer(address indexed from, address indexed to, uint256 value)') AS ev
             FROM "_/eth_rpc@0.0.0".logs WHERE topic3 IS NULL AND topic0 =
               evm_topic('Transfer(address indexed from, address indexed to, uint256 value)')
             LIMIT 1"""
    ev = json.loads(http.post("/", content=sql).text)["ev"]
    assert set(ev) == {"from", "to", "value"} and ev["value"].isdigit()
    empty = http.post("/", content='SELECT 1 AS x FROM "_/eth_rpc@0.0.0".blocks WHERE false')
    assert empty.status_code == 200 and empty.text == ""


@pytest.mark.parametrize(
    ("sql", "status", "code"),
    [
        ("   ", 400, "INVALID_SQL_STRING"),
        ("SELEC 1", 400, "SQL_PARSE_ERROR"),
        ("SELECT 1 AS x SETTINGS stream = true", 400, "STREAMING_NOT_SUPPORTED"),
        ("SELECT * FROM nope.logs", 500, "PLANNING_ERROR"),
        ("SELECT 1 AS _x", 400, "INVALID_PLAN"),
    ],
)
def test_errors_are_amps_json_bodies(http, sql, status, code):
    response = http.post("/", content=sql)
    assert response.status_code == status
    assert response.json()["error_code"] == code
    assert response.json()["error_message"]


def test_health(http):
    assert http.get("/health").status_code == 200
