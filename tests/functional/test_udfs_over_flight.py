"""Amp's UDFs through the whole stack (ADBC → Flight → amp_local), checked against ground truth:
what the synthetic chain generator wrote, and an independent eth-abi decoding of real mainnet data."""

from __future__ import annotations

import adbc_driver_flightsql.dbapi as flightsql
import eth_abi
import pyarrow.parquet as pq
import pytest

from amp_local.bundled import SNAPSHOTS_DIR as SNAPSHOTS
from amp_local.chain import decoded_events, erc20_transfers

TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
TRANSFER_TOPIC = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")

# PROTOCOL §3, verbatim but for the dataset reference
SECTION_3_QUERY = """
SELECT l.block_num, l.tx_hash, l.log_index, l.address AS token,
       l.ev['from'] AS from_address, l.ev['to'] AS to_address, l.ev['value'] AS amount_raw
FROM (
  SELECT block_num, tx_hash, log_index, address,
         evm_decode_log(topic1, topic2, topic3, data,
           'Transfer(address indexed from, address indexed to, uint256 value)') AS ev
  FROM {logs}
  WHERE topic0 = evm_topic('Transfer(address indexed from, address indexed to, uint256 value)')
) l
"""


@pytest.fixture(scope="module")
def conn(amp_server):
    with flightsql.connect(amp_server.flight_url, autocommit=True) as c:
        yield c


def rows(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table().to_pylist()


def test_erc20_transfers_match_what_the_generator_wrote(conn, amp_server):
    got = rows(conn, SECTION_3_QUERY.format(logs='"_/eth_firehose@1.0.0".logs'))
    truth = erc20_transfers(amp_server.data_dir / "chain")
    assert len(truth) > 100
    decoded = {
        (r["block_num"], r["log_index"]): (
            r["token"],
            r["from_address"],
            r["to_address"],
            r["amount_raw"],
        )
        for r in got
        if r["amount_raw"] is not None
    }
    expected = {
        (t.block_num, t.log_index): (t.token, t.sender, t.recipient, str(t.value)) for t in truth
    }
    assert decoded == expected
    # ERC-721 transfers share topic0 but index tokenId: their (empty) body decodes to NULL
    nfts = [
        e for e in decoded_events(amp_server.data_dir / "chain") if e.event == "TransferERC721"
    ]
    assert sum(r["amount_raw"] is None for r in got) == len(nfts)


def test_decoding_matches_eth_abi_on_real_mainnet_logs(conn):
    got = rows(conn, SECTION_3_QUERY.format(logs='"_/eth_rpc@0.0.0".logs'))
    logs = pq.read_table(next((SNAPSHOTS / "eth_rpc" / "logs").glob("*.parquet"))).to_pylist()
    expected = {}
    for log in logs:
        if log["topic0"] != TRANSFER_TOPIC:
            continue
        value = None
        if log["topic3"] is None and len(log["data"]) == 32:
            (value,) = eth_abi.decode(["uint256"], log["data"])
        frm = eth_abi.decode(["address"], log["topic1"])[0]
        to = eth_abi.decode(["address"], log["topic2"])[0]
        expected[log["log_index"]] = (
            bytes.fromhex(frm[2:]),
            bytes.fromhex(to[2:]),
            None if value is None else str(value),
        )
    decoded = {r["log_index"]: (r["from_address"], r["to_address"], r["amount_raw"]) for r in got}
    assert len(decoded) > 100
    assert decoded == expected


def test_evm_decode_params_matches_eth_abi_on_real_calldata(conn):
    sql = """
      SELECT tx_hash, evm_decode_params(input, 'transfer(address to, uint256 amount)') AS p
      FROM "_/eth_rpc@0.0.0".transactions
    """
    got = {r["tx_hash"]: r["p"] for r in rows(conn, sql)}
    txs = pq.read_table(next((SNAPSHOTS / "eth_rpc" / "transactions").glob("*.parquet")))
    checked = 0
    for tx in txs.to_pylist():
        data = tx["input"]
        if data[:4] != bytes.fromhex("a9059cbb"):
            assert got[tx["tx_hash"]] is None or got[tx["tx_hash"]]["to"] is None
            continue
        to, amount = eth_abi.decode(["address", "uint256"], data[4:])
        assert got[tx["tx_hash"]] == {"to": bytes.fromhex(to[2:]), "amount": str(amount)}
        checked += 1
    assert checked >= 10


def test_readable_output_helpers(conn):
    sql = f"""
      SELECT evm_decode_hex(address) AS token,
             shift_units(evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}')['value'], -6)
               AS amount
      FROM "_/eth_rpc@0.0.0".logs
      WHERE topic0 = evm_topic('{TRANSFER}')
        AND address = evm_encode_hex('0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48')
    """
    result = rows(conn, sql)
    assert result, "block 15,000,000 has USDC transfers"
    assert {r["token"] for r in result} == {"0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"}
    assert all(
        r["amount"] and not r["amount"].endswith("0") or "." not in r["amount"] for r in result
    )


def test_evm_encode_type_composites_from_literals_and_columns(conn):
    sql = """
      SELECT log_index, address,
             evm_encode_type(named_struct('who', address, 'n', arrow_cast(log_index, 'UInt64')),
                             '(address,uint256)') AS pair,
             evm_encode_type(arrow_cast(make_array(arrow_cast(log_index, 'UInt64'), 7),
                                        'FixedSizeList(2, UInt64)'), 'uint64[2]') AS fixed,
             evm_encode_type(named_struct('tags', make_array(arrow_cast(log_index, 'UInt16')),
                                          'inner', named_struct('s', 'amp', 'ok', true)),
                             '(uint16[],(string,bool))') AS nested,
             evm_encode_type(named_struct('a', arrow_cast(1, 'UInt64'), 'b', 'x'),
                             '(uint256,string)') AS literal
      FROM "_/eth_rpc@0.0.0".logs ORDER BY log_index LIMIT 5
    """
    got = rows(conn, sql)
    assert len(got) == 5
    for r in got:
        i, who = r["log_index"], "0x" + r["address"].hex()
        assert r["pair"] == eth_abi.encode(["(address,uint256)"], [(who, i)])
        assert r["fixed"] == eth_abi.encode(["uint64[2]"], [[i, 7]])
        assert r["nested"] == eth_abi.encode(["(uint16[],(string,bool))"], [([i], ("amp", True))])
        assert r["literal"] == eth_abi.encode(["(uint256,string)"], [(1, "x")])
    decoded = rows(
        conn,
        """SELECT evm_decode_type(evm_encode_type(named_struct('who', address,
                    'n', arrow_cast(log_index, 'UInt64')), '(address,uint256)'),
                  '(address,uint256)') AS d, address, log_index
           FROM "_/eth_rpc@0.0.0".logs ORDER BY log_index LIMIT 5""",
    )
    assert [r["d"] for r in decoded] == [
        {"c0": r["address"], "c1": str(r["log_index"])} for r in decoded
    ]


def test_a_field_a_decoded_event_lacks_is_a_planning_error(client):
    """Typing the UDF calls must not turn DataFusion's refusal into an amp_local bug (INTERNAL
    with a fixed message): Amp reports the planning error."""
    import pyarrow as pa

    from tests.functional.flight_client import check_status, statement_descriptor

    sql = (
        "SELECT evm_decode_hex(ev['fro']) AS sender FROM ("
        f"SELECT evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') AS ev "
        'FROM "_/eth_rpc@0.0.0".logs) decoded'
    )
    with pytest.raises(pa.ArrowException) as error:
        client.get_flight_info(statement_descriptor(sql))
    status = check_status(error.value)
    assert status.code == "INTERNAL" and "planning error" in status.message, status
    assert "Field fro not found in struct" in status.message, status
