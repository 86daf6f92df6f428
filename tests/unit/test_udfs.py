"""Amp's EVM UDFs (amp_local.udfs) on in-process DataFusion, against real mainnet vectors.

Real data: the eth_rpc snapshot of block 15,000,000 (719 logs, 348 transactions, Amp's schema). Every
decoded value is compared with an independent eth-abi decoding of the same bytes.
"""

from __future__ import annotations

import decimal
import re
import threading

import eth_abi
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext
from eth_hash.auto import keccak

from amp_local.bundled import SNAPSHOTS_DIR as SNAPSHOTS
from amp_local.engine import datafusion_execution_error, datafusion_planning_error
from amp_local.errors import AmpError
from amp_local.udf_rewrite import amp_function_name, clean_error_text, unrewrite_text
from amp_local.udfs import rewrite_udf_calls

SNAP = SNAPSHOTS / "eth_rpc"  # Amp's real mainnet snapshot (shipped in amp_local/snapshots)
TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
APPROVAL = "Approval(address indexed owner, address indexed spender, uint256 value)"
SWAP_V2 = (
    "Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out, "
    "uint amount1Out, address indexed to)"
)
SWAP_V3 = (
    "Swap(address indexed sender,address indexed recipient,int256 amount0,int256 amount1,"
    "uint160 sqrtPriceX96,uint128 liquidity,int24 tick)"
)
SYNC = "Sync(uint112 reserve0, uint112 reserve1)"
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
APPROVAL_TOPIC = "8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
SWAP_V2_TOPIC = "d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
SWAP_V3_TOPIC = "c42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67"

USDC = bytes.fromhex("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
ALICE = bytes.fromhex("28c6c06298d514db089934071355e5743bf21d60")  # Binance 14
BOB = bytes.fromhex("dfd5293d8e347dfe59e90efd55b2956a1343963d")  # Binance 16


def word(b: bytes) -> bytes:
    return b.rjust(32, b"\x00")


@pytest.fixture(scope="module")
def ctx() -> SessionContext:
    c = SessionContext()
    if (SNAP / "logs").is_dir():
        c.register_record_batches("logs", [pq.read_table(SNAP / "logs").to_batches()])
        c.register_record_batches("txs", [pq.read_table(SNAP / "transactions").to_batches()])
    return c


def rewrite(ctx: SessionContext, sql: str, **kwargs) -> str:
    return rewrite_udf_calls(ctx, sql, plan=ctx.sql, **kwargs).sql


def q(ctx: SessionContext, sql: str) -> pa.Table:
    """Plan and run `sql` with Amp's UDFs; DataFusion's errors become Amp's (`AmpError`)."""
    try:
        frame = ctx.sql(rewrite(ctx, sql))
    except AmpError:
        raise
    except Exception as exc:
        raise datafusion_planning_error(str(exc)) from None
    try:
        return frame.to_arrow_table()
    except Exception as exc:
        raise datafusion_execution_error(str(exc)) from None


def one(ctx: SessionContext, sql: str):
    t = q(ctx, sql)
    return t.column(0)[0].as_py()


def sql_hex(b: bytes) -> str:
    return f"X'{b.hex()}'"


def sql_fsb(b: bytes) -> str:
    return f"arrow_cast({sql_hex(b)}, 'FixedSizeBinary({len(b)})')"


# ------------------------------------------------------------------------------------------
# evm_topic
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig,topic",
    [
        (TRANSFER, TRANSFER_TOPIC),
        ("Transfer(address,address,uint256)", TRANSFER_TOPIC),
        (APPROVAL, APPROVAL_TOPIC),
        (SWAP_V2, SWAP_V2_TOPIC),
        (SWAP_V3, SWAP_V3_TOPIC),
    ],
)
def test_evm_topic_known_vectors(ctx, sig, topic):
    t = q(ctx, f"SELECT evm_topic('{sig}') AS t")
    assert t.schema.field("t").type == pa.binary(32)
    assert t.column("t")[0].as_py().hex() == topic


def test_evm_topic_tuple_and_array_canonicalisation(ctx):
    sig = "Foo((uint112,uint112,uint32) indexed r, address[] xs, bytes32[2] ys, uint x)"
    expected = keccak(b"Foo((uint112,uint112,uint32),address[],bytes32[2],uint256)")
    assert one(ctx, f"SELECT evm_topic('{sig}')") == expected


def test_evm_topic_filters_real_logs(ctx):
    n = one(ctx, f"SELECT count(*) FROM logs WHERE topic0 = evm_topic('{TRANSFER}')")
    logs = pq.read_table(SNAP / "logs").to_pylist()
    assert n == sum(1 for r in logs if r["topic0"] and r["topic0"].hex() == TRANSFER_TOPIC)
    assert n > 100


# ------------------------------------------------------------------------------------------
# evm_decode_log
# ------------------------------------------------------------------------------------------


def test_decode_usdc_transfer_constructed(ctx):
    value = 25_000_000_000  # 25,000 USDC (6 decimals)
    data = eth_abi.encode(["uint256"], [value])
    assert data == word(value.to_bytes(8, "big"))
    sql = (
        f"SELECT evm_decode_log({sql_fsb(word(ALICE))}, {sql_fsb(word(BOB))}, NULL, "
        f"{sql_hex(data)}, '{TRANSFER}') AS ev"
    )
    t = q(ctx, sql)
    assert t.schema.field("ev").type == pa.struct(
        [("from", pa.binary(20)), ("to", pa.binary(20)), ("value", pa.string())]
    )
    assert t.schema.field("ev").nullable is False
    assert t.column("ev")[0].as_py() == {"from": ALICE, "to": BOB, "value": str(value)}
    # readable form: evm_decode_hex + shift_units(…, -6)
    sql2 = (
        f"SELECT evm_decode_hex(ev['from']) AS f, shift_units(ev['value'], -6) AS v FROM ({sql}) s"
    )
    row = q(ctx, sql2).to_pylist()[0]
    assert row == {"f": "0x" + ALICE.hex(), "v": "25000"}


def test_decode_uniswap_v2_swap_indexed_first(ctx):
    sender = bytes.fromhex("7a250d5630b4cf539739df2c5dacb4c659f2488d")  # V2 router
    to = bytes.fromhex("3fc91a3afd70395cd496c647d5a6cc9d4b2b7fad")
    amounts = [0, 2 * 10**18, 1_234_567_890, 0]
    data = eth_abi.encode(["uint256"] * 4, amounts)
    t = q(
        ctx,
        f"SELECT evm_decode_log({sql_fsb(word(sender))}, {sql_fsb(word(to))}, NULL, "
        f"{sql_hex(data)}, '{SWAP_V2}') AS ev",
    )
    typ = t.schema.field("ev").type
    assert [f.name for f in typ] == [
        "sender",
        "to",
        "amount0In",
        "amount1In",
        "amount0Out",
        "amount1Out",
    ]
    assert all(typ.field(n).type == pa.string() for n in ("amount0In", "amount1Out"))
    assert t.column("ev")[0].as_py() == {
        "sender": sender,
        "to": to,
        "amount0In": "0",
        "amount1In": str(2 * 10**18),
        "amount0Out": "1234567890",
        "amount1Out": "0",
    }


def test_decode_log_type_mapping(ctx):
    sig = (
        "E(string indexed s, uint64 indexed a, bool indexed f, uint8 u8, int16 i16, uint24 u24, "
        "int64 i64, uint96 u96, int120 i120, uint128 u128, int200 i200, uint256 u256, int256 i256, "
        "bytes4 b4, bytes b, string str, address[] addrs, (uint8,bool) t, uint16[2] fa)"
    )
    s_hash = keccak(b"hello")
    body_types = [
        "uint8",
        "int16",
        "uint24",
        "int64",
        "uint96",
        "int120",
        "uint128",
        "int200",
        "uint256",
        "int256",
        "bytes4",
        "bytes",
        "string",
        "address[]",
        "(uint8,bool)",
        "uint16[2]",
    ]
    body = [
        255,
        -300,
        70000,
        -(2**63),
        2**96 - 1,
        -(2**119),
        2**128 - 1,
        -(2**199),
        2**256 - 1,
        -(2**255),
        b"\xa9\x05\x9c\xbb",
        b"\x01\x02",
        "héllo",
        ["0x" + ALICE.hex(), "0x" + BOB.hex()],
        (7, True),
        [1, 65535],
    ]
    data = eth_abi.encode(body_types, body)
    t = q(
        ctx,
        f"SELECT evm_decode_log({sql_fsb(s_hash)}, {sql_fsb(word((2**64 - 1).to_bytes(8, 'big')))}, "
        f"{sql_fsb(word(bytes([1])))}, {sql_hex(data)}, '{sig}') AS ev",
    )
    typ = t.schema.field("ev").type
    expected_types = {
        "s": pa.binary(32),
        "a": pa.uint64(),
        "f": pa.bool_(),
        "u8": pa.uint8(),
        "i16": pa.int16(),
        "u24": pa.uint32(),
        "i64": pa.int64(),
        "u96": pa.decimal128(38, 0),
        "i120": pa.decimal128(38, 0),
        "u128": pa.decimal256(76, 0),
        "i200": pa.decimal256(76, 0),
        "u256": pa.string(),
        "i256": pa.string(),
        "b4": pa.binary(4),
        "b": pa.binary(),
        "str": pa.string(),
        "addrs": pa.list_(pa.binary(20)),
        "t": pa.struct([("c0", pa.uint8()), ("c1", pa.bool_())]),
        "fa": pa.list_(pa.uint16(), 2),
    }
    assert {f.name: f.type for f in typ} == expected_types
    assert [f.name for f in typ][:3] == ["s", "a", "f"]
    row = t.column("ev")[0].as_py()
    D = decimal.Decimal
    assert row == {
        "s": s_hash,
        "a": 2**64 - 1,
        "f": True,
        "u8": 255,
        "i16": -300,
        "u24": 70000,
        "i64": -(2**63),
        "u96": D(2**96 - 1),
        "i120": D(-(2**119)),
        "u128": D(2**128 - 1),
        "i200": D(-(2**199)),
        "u256": str(2**256 - 1),
        "i256": str(-(2**255)),
        "b4": b"\xa9\x05\x9c\xbb",
        "b": b"\x01\x02",
        "str": "héllo",
        "addrs": [ALICE, BOB],
        "t": {"c0": 7, "c1": True},
        "fa": [1, 65535],
    }


def test_decode_log_body_failure_gives_null_fields_not_null_struct(ctx):
    sql = (
        f"SELECT evm_decode_log({sql_fsb(word(ALICE))}, {sql_fsb(word(BOB))}, NULL, "
        f"X'0102', '{TRANSFER}') AS ev"
    )
    assert one(ctx, sql) == {"from": ALICE, "to": BOB, "value": None}
    # dirty padding in a uint8 slot is a decode failure too (eth-abi semantics)
    bad = b"\x01" + b"\x00" * 30 + b"\x05"
    sql = f"SELECT evm_decode_log(NULL, NULL, NULL, {sql_hex(bad)}, 'E(uint8 x)') AS ev"
    assert one(ctx, sql) == {"x": None}
    good = word(b"\x05")
    sql = f"SELECT evm_decode_log(NULL, NULL, NULL, {sql_hex(good)}, 'E(uint8 x)') AS ev"
    assert one(ctx, sql) == {"x": 5}


def test_decode_log_no_params_is_null_type(ctx):
    t = q(ctx, "SELECT evm_decode_log(NULL, NULL, NULL, X'', 'Paused()') AS ev")
    assert t.schema.field("ev").type == pa.null()


def test_evm_decode_alias(ctx):
    data = eth_abi.encode(["uint256"], [42])
    sql = (
        f"SELECT evm_decode({sql_fsb(word(ALICE))}, {sql_fsb(word(BOB))}, NULL, "
        f"{sql_hex(data)}, '{TRANSFER}') AS ev"
    )
    assert one(ctx, sql) == {"from": ALICE, "to": BOB, "value": "42"}


def _expected_event_rows(logs: list[dict], types: list[tuple[str, str, bool]]) -> list[dict]:
    """Independent decoding: topics by slicing, body with eth_abi.decode (None on failure)."""
    out = []
    body = [(n, t) for n, t, idx in types if not idx]
    for r in logs:
        row = {}
        topics = [r["topic1"], r["topic2"], r["topic3"]]
        ti = 0
        for n, t, idx in types:
            if idx:
                topic = topics[ti]
                ti += 1
                row[n] = None if topic is None else (topic[12:] if t == "address" else topic)
        try:
            vals = eth_abi.decode([t for _, t in body], r["data"])
        except Exception:
            vals = [None] * len(body)
        for (n, t), v in zip(body, vals, strict=True):
            if v is None:
                row[n] = None
            elif t in ("uint256", "int256"):
                row[n] = str(v)
            elif t in ("uint160", "uint128"):
                row[n] = decimal.Decimal(v)
            elif t == "address":
                row[n] = bytes.fromhex(v[2:])
            else:
                row[n] = v
        out.append(row)
    return out


@pytest.mark.parametrize(
    "sig,topic,types",
    [
        (
            TRANSFER,
            TRANSFER_TOPIC,
            [("from", "address", True), ("to", "address", True), ("value", "uint256", False)],
        ),
        (
            APPROVAL,
            APPROVAL_TOPIC,
            [
                ("owner", "address", True),
                ("spender", "address", True),
                ("value", "uint256", False),
            ],
        ),
        (
            SWAP_V2,
            SWAP_V2_TOPIC,
            [("sender", "address", True), ("to", "address", True)]
            + [
                (n, "uint256", False)
                for n in ("amount0In", "amount1In", "amount0Out", "amount1Out")
            ],
        ),
        (
            SWAP_V3,
            SWAP_V3_TOPIC,
            [
                ("sender", "address", True),
                ("recipient", "address", True),
                ("amount0", "int256", False),
                ("amount1", "int256", False),
                ("sqrtPriceX96", "uint160", False),
                ("liquidity", "uint128", False),
                ("tick", "int24", False),
            ],
        ),
    ],
)
def test_decode_every_real_log_matches_eth_abi(ctx, sig, topic, types):
    t = q(
        ctx,
        f"SELECT log_index, evm_decode_log(topic1, topic2, topic3, data, '{sig}') AS ev "
        f"FROM logs WHERE topic0 = evm_topic('{sig}') ORDER BY log_index",
    )
    logs = sorted(
        (
            r
            for r in pq.read_table(SNAP / "logs").to_pylist()
            if r["topic0"] and r["topic0"].hex() == topic
        ),
        key=lambda r: r["log_index"],
    )
    assert t.num_rows == len(logs) > 10
    got = t.column("ev").to_pylist()
    assert got == _expected_event_rows(logs, types)
    if sig == TRANSFER:
        # ERC-721 Transfers (tokenId indexed in topic3, empty data) fail the body decode
        nft = [g for g, r in zip(got, logs, strict=True) if r["topic3"] is not None]
        assert nft and all(g["value"] is None and g["from"] is not None for g in nft)
        erc20 = [g for g, r in zip(got, logs, strict=True) if r["topic3"] is None]
        assert all(g["value"] is not None for g in erc20)


def test_decode_transfer_typical_query_with_struct_access(ctx):
    sql = f"""
    SELECT l.block_num, l.log_index, l.address AS token,
           l.ev['from'] AS from_address, l.ev['to'] AS to_address, l.ev['value'] AS amount_raw,
           shift_units(l.ev['value'], -18) AS amount
    FROM (
      SELECT block_num, log_index, address,
             evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') AS ev
      FROM logs
      WHERE topic0 = evm_topic('{TRANSFER}') AND topic3 IS NULL
    ) l ORDER BY l.log_index"""
    rows = q(ctx, sql).to_pylist()
    assert len(rows) == 325 - 92
    for r in rows:
        raw = int(r["amount_raw"])
        back = decimal.Decimal(r["amount"]).scaleb(18, decimal.Context(prec=200))
        assert back == raw
        assert "e" not in r["amount"].lower() and not r["amount"].endswith(
            (".", "0") if "." in r["amount"] else (".")
        )
        assert len(r["from_address"]) == 20


# ------------------------------------------------------------------------------------------
# evm_decode_params / evm_encode_params
# ------------------------------------------------------------------------------------------


def test_decode_params_constructed_transfer_calldata(ctx):
    calldata = bytes.fromhex("a9059cbb") + eth_abi.encode(
        ["address", "uint256"], ["0x" + BOB.hex(), 10**6]
    )
    t = q(
        ctx,
        f"SELECT evm_decode_params({sql_hex(calldata)}, 'transfer(address to, uint256 amount)') p",
    )
    assert t.schema.field("p").type == pa.struct([("to", pa.binary(20)), ("amount", pa.string())])
    assert t.column("p")[0].as_py() == {"to": BOB, "amount": "1000000"}
    # selector mismatch / too short / garbage → NULL
    for bad in (b"\x09\x5e\xa7\xb3" + calldata[4:], b"\xa9\x05", calldata[:40]):
        p = one(
            ctx,
            f"SELECT evm_decode_params({sql_hex(bad)}, 'transfer(address to, uint256 amount)')",
        )
        assert p is None


def test_decode_params_on_real_transfer_calldata(ctx):
    sig = "transfer(address to, uint256 amount)"
    t = q(
        ctx,
        f"SELECT tx_index, input, evm_decode_params(input, '{sig}') AS p FROM txs ORDER BY tx_index",
    )
    rows = t.to_pylist()
    matched = 0
    for r in rows:
        data = r["input"]
        expected = None
        if data[:4] == bytes.fromhex("a9059cbb"):
            try:
                to, amount = eth_abi.decode(["address", "uint256"], data[4:])
                expected = {"to": bytes.fromhex(to[2:]), "amount": str(amount)}
                matched += 1
            except Exception:
                expected = None
        assert r["p"] == expected, r["tx_index"]
    assert matched >= 60

    # round trip: re-encode the decoded params and compare with the real calldata. uint256 decodes
    # as Utf8, which Amp does not convert back to uint256: cast it to a scale-0 decimal first
    t = q(
        ctx,
        f"""SELECT input, evm_encode_params(p['to'], CAST(p['amount'] AS DECIMAL(76, 0)),
                                           '{sig}') AS enc
            FROM (SELECT input, evm_decode_params(input, '{sig}') AS p FROM txs
                  WHERE evm_decode_params(input, '{sig}') IS NOT NULL) s""",
    )
    assert t.schema.field("enc").type == pa.binary()
    pairs = t.to_pylist()
    assert len(pairs) == matched
    assert all(p["enc"] == p["input"][:68] for p in pairs)


def test_encode_params_types_and_no_arg_call(ctx):
    assert one(ctx, "SELECT evm_encode_params('decimals()')") == bytes.fromhex("313ce567")
    enc = one(
        ctx,
        f"SELECT evm_encode_params(evm_encode_hex('{BOB.hex()}'), arrow_cast(1000, 'UInt64'), "
        "'transfer(address to, uint256 amount)')",
    )
    assert enc == bytes.fromhex("a9059cbb") + eth_abi.encode(
        ["address", "uint256"], ["0x" + BOB.hex(), 1000]
    )
    enc = one(
        ctx,
        "SELECT evm_encode_params(arrow_cast(7, 'UInt64'), true, 'hi', X'0102', "
        "'f(uint64 a, bool b, string s, bytes d)')",
    )
    assert enc == keccak(b"f(uint64,bool,string,bytes)")[:4] + eth_abi.encode(
        ["uint64", "bool", "string", "bytes"], [7, True, "hi", b"\x01\x02"]
    )


# ------------------------------------------------------------------------------------------
# evm_decode_type / evm_encode_type
# ------------------------------------------------------------------------------------------


def test_decode_type_values_and_tuples(ctx):
    reserves = eth_abi.encode(["(uint112,uint112,uint32)"], [(10**20, 5 * 10**9, 1656633600)])
    t = q(ctx, f"SELECT evm_decode_type({sql_hex(reserves)}, '(uint112,uint112,uint32)') AS r")
    assert t.schema.field("r").type == pa.struct(
        [("c0", pa.decimal128(38, 0)), ("c1", pa.decimal128(38, 0)), ("c2", pa.uint32())]
    )
    assert t.column("r")[0].as_py() == {
        "c0": decimal.Decimal(10**20),
        "c1": decimal.Decimal(5 * 10**9),
        "c2": 1656633600,
    }
    assert one(ctx, f"SELECT evm_decode_type({sql_hex(word(bytes([42])))}, 'uint256')") == "42"
    assert one(ctx, f"SELECT evm_decode_type({sql_hex(word(ALICE))}, 'address')") == ALICE
    s = eth_abi.encode(["string"], ["Wrapped Ether"])
    assert one(ctx, f"SELECT evm_decode_type({sql_hex(s)}, 'string')") == "Wrapped Ether"
    assert one(ctx, "SELECT evm_decode_type(X'01', 'uint256')") is None
    assert one(ctx, "SELECT evm_decode_type(X'01', '(uint8,bool)')") is None


def test_encode_type_scalars_follow_amps_arrow_to_solidity_rules(ctx):
    assert one(ctx, "SELECT evm_encode_type(arrow_cast(42, 'UInt64'), 'uint256')") == word(b"\x2a")
    assert one(ctx, "SELECT evm_encode_type(-5, 'int24')") == eth_abi.encode(["int24"], [-5])
    assert one(ctx, "SELECT evm_encode_type('Wrapped Ether', 'string')") == eth_abi.encode(
        ["string"], ["Wrapped Ether"]
    )
    assert one(ctx, "SELECT evm_encode_type(CAST(7 AS DECIMAL(10, 0)), 'uint8')") == word(b"\x07")
    v = one(
        ctx,
        "SELECT evm_decode_type(evm_encode_type(arrow_cast(-5, 'Int32'), 'int24'), 'int24')",
    )
    assert v == -5


# (value SQL, Solidity type, the value eth-abi encodes) for composite types, from literals
COMPOSITE = [
    (
        f"named_struct('a', evm_encode_hex('{ALICE.hex()}'), 'b', arrow_cast(7, 'UInt64'))",
        "(address,uint256)",
        ("0x" + ALICE.hex(), 7),
    ),
    ("arrow_cast([1, 2], 'FixedSizeList(2, UInt64)')", "uint256[2]", [1, 2]),
    ("arrow_cast([1, 2, 3], 'List(UInt16)')", "uint16[]", [1, 2, 3]),
    (
        "named_struct('x', arrow_cast([5, 6], 'List(Int64)'), 'y', named_struct('s', 'hi', "
        "'f', true))",
        "(int64[],(string,bool))",
        ([5, 6], ("hi", True)),
    ),
    (
        "[named_struct('a', arrow_cast(1, 'UInt8'), 'b', 'x'), "
        "named_struct('a', arrow_cast(2, 'UInt8'), 'b', 'yz')]",
        "(uint8,string)[]",
        [(1, "x"), (2, "yz")],
    ),
]


@pytest.mark.parametrize(("value", "ty", "expected"), COMPOSITE)
def test_encode_type_composite_types_round_trip(ctx, value, ty, expected):
    encoded = one(ctx, f"SELECT evm_encode_type({value}, '{ty}')")
    assert encoded == eth_abi.encode([ty], [expected])
    decoded = one(ctx, f"SELECT evm_decode_type(evm_encode_type({value}, '{ty}'), '{ty}')")
    assert decoded is not None


def test_encode_type_composite_types_from_columns(ctx):
    rows = q(
        ctx,
        """SELECT evm_encode_type(pair, '(address,uint256)') AS e, address, n
           FROM (SELECT address, arrow_cast(log_index, 'UInt64') AS n,
                        named_struct('who', address, 'n', arrow_cast(log_index, 'UInt64')) AS pair
                 FROM logs ORDER BY log_index LIMIT 5) s""",
    ).to_pylist()
    assert len(rows) == 5
    for r in rows:
        assert r["e"] == eth_abi.encode(
            ["(address,uint256)"], [("0x" + r["address"].hex(), r["n"])]
        )
    fixed = q(
        ctx,
        """SELECT evm_encode_type(arrow_cast(make_array(n, n + 1), 'FixedSizeList(2, UInt64)'),
                                  'uint256[2]') AS e, n
           FROM (SELECT arrow_cast(log_index, 'UInt64') AS n FROM logs LIMIT 3) s""",
    ).to_pylist()
    assert all(r["e"] == eth_abi.encode(["uint256[2]"], [[r["n"], r["n"] + 1]]) for r in fixed)


def test_encode_type_of_a_null_column_value_encodes_the_slot_like_amp(ctx):
    # Amp reads a column slot whether it is NULL or not (Rust `value(idx)`): a NULL topic read
    # from parquet holds zeros and encodes as 32 zero bytes; a NULL literal is refused instead
    rows = q(
        ctx,
        "SELECT topic3, evm_encode_type(topic3, 'bytes32') AS e FROM logs "
        "WHERE topic3 IS NULL LIMIT 3",
    ).to_pylist()
    assert len(rows) == 3
    assert all(r["e"] == bytes(32) for r in rows)
    with pytest.raises(AmpError, match="Unsupported type FixedSizeBinary.32. for Solidity"):
        q(ctx, "SELECT evm_encode_type(arrow_cast(NULL, 'FixedSizeBinary(32)'), 'bytes32')")


def test_encode_hex_and_decode_hex(ctx):
    t = q(
        ctx,
        f"SELECT evm_encode_hex('0x{USDC.hex()}') AS a, evm_encode_hex('{TRANSFER_TOPIC}') AS h",
    )
    assert t.schema.field("a").type == pa.binary(20)
    assert t.schema.field("h").type == pa.binary(32)
    assert t.to_pylist()[0] == {"a": USDC, "h": bytes.fromhex(TRANSFER_TOPIC)}
    # evm_decode_hex takes columns only (a literal is a DataFusion Scalar, which Amp refuses)
    t = q(
        ctx, f"SELECT evm_decode_hex(a) AS d FROM (SELECT evm_encode_hex('{USDC.hex()}') AS a) s"
    )
    assert t.column("d")[0].as_py() == "0x" + USDC.hex()


def test_decode_hex_on_real_columns(ctx):
    t = q(ctx, "SELECT address, evm_decode_hex(address) a, evm_decode_hex(tx_hash) h FROM logs")
    for r in t.to_pylist():
        assert r["a"] == "0x" + r["address"].hex()
        assert len(r["h"]) == 66


@pytest.mark.parametrize(
    "value,units,expected",
    [
        ("'1500000000000000000'", "-18", "1.5"),
        ("'1000000000000000000'", "-18", "1"),
        ("'0'", "-18", "0"),
        ("'-2500000'", "-6", "-2.5"),
        ("'1.5'", "18", "1500000000000000000"),
        ("15", "2", "1500"),
        ("arrow_cast(18446744073709551615, 'UInt64')", "-18", "18.446744073709551615"),
        ("arrow_cast(-7, 'Int8')", "'-1'", "-0.7"),
        ("arrow_cast(255, 'UInt8')", "arrow_cast(1, 'UInt8')", "2550"),
        ("1.25", "2", "125"),
        ("arrow_cast(0.5, 'Float32')", "1", "5"),
        ("cast(1.50 as decimal(10,2))", "0", "1.5"),
        (
            "arrow_cast('123456789012345678901234567890', 'Decimal256(76,0)')",
            "-30",
            "0.12345678901234567890123456789",
        ),
        (
            f"'{2**256 - 1}'",
            "-32",
            str(2**256 - 1)[:-32] + "." + str(2**256 - 1)[-32:],
        ),
        ("'42'", "0", "42"),
        ("'1'", "'+3'", "1000"),
    ],
)
def test_shift_units(ctx, value, units, expected):
    t = q(ctx, f"SELECT shift_units({value}, {units}) AS s")
    assert t.schema.field("s").type == pa.string()
    assert t.column("s")[0].as_py() == expected


def test_shift_units_null_column_values_and_units(ctx):
    # NULL values give NULL; NULL units count as 1 (Amp's `unwrap_or(1)`)
    rows = q(
        ctx,
        """SELECT shift_units(v, u) AS s FROM (VALUES ('5', 1), (NULL, 1), ('5', NULL)) t(v, u)""",
    ).to_pylist()
    assert [r["s"] for r in rows] == ["50", None, "50"]


def test_block_num_rejected_in_batch_queries(ctx):
    with pytest.raises(AmpError) as ei:
        rewrite(ctx, "SELECT block_num(), block_num FROM logs")
    assert ei.value.error_code == "INVALID_PLAN"
    assert str(ei.value) == (
        "invalid plan | Caused by: Error during planning: "
        "block_num() is only supported in streaming queries"
    )
    # the block_num *column* is fine
    assert rewrite(ctx, "SELECT block_num FROM logs") == "SELECT block_num FROM logs"
    assert (
        rewrite(ctx, "SELECT block_num() AS b FROM logs", block_num_expr="_block_num")
        == "SELECT (_block_num) AS b FROM logs"
    )


def test_rewrite_renames_only_function_names(ctx):
    sql = (
        'SELECT "x"."Topic1", EVM_Decode_Log(topic1, topic2, topic3, data, '
        f"'{TRANSFER}') AS ev -- evm_topic('bad(')\n"
        "FROM logs x /* evm_decode_log( */ WHERE 'evm_topic(' <> '' "
        f"AND topic0 = evm_topic('{TRANSFER}')"
    )
    out = rewrite(ctx, sql)
    variants = re.findall(r"(evm_decode_log|evm_topic)__[0-9a-f]{16}", out)
    assert variants == ["evm_decode_log", "evm_topic"]
    assert re.sub(r"__[0-9a-f]{16}", "", out) == sql.replace("EVM_Decode_Log", "evm_decode_log")
    assert rewrite(ctx, "SELECT 1") == "SELECT 1"
    # a qualified call is a dataset's function, not the built-in
    assert rewrite(ctx, 'SELECT "ns/x@1.0.0".evm_topic(1)') == 'SELECT "ns/x@1.0.0".evm_topic(1)'


def test_output_column_names_are_amps(ctx):
    t = q(
        ctx,
        "SELECT evm_decode_hex(address), shift_units('15', -1), "
        f"evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') FROM logs LIMIT 1",
    )
    names = [unrewrite_text(n) for n in t.schema.names]
    assert names == [
        "evm_decode_hex(logs.address)",
        'shift_units(Utf8("15"),Int64(-1))',
        f'evm_decode_log(logs.topic1,logs.topic2,logs.topic3,logs.data,Utf8("{TRANSFER}"))',
    ]
    assert amp_function_name("evm_decode__0123456789abcdef") == "evm_decode"
    assert amp_function_name("other__0123456789abcdef") == "other__0123456789abcdef"


def test_registration_is_idempotent_and_thread_safe():
    c = SessionContext()
    errors: list[BaseException] = []
    sigs = [f"E{i % 5}(uint256 indexed a, uint{8 * (i % 4 + 1)} b)" for i in range(40)]

    def work(sig: str) -> None:
        try:
            data = eth_abi.encode(["uint8"], [3])
            sql = f"SELECT evm_decode_log({sql_fsb(word(bytes([7])))}, NULL, NULL, {sql_hex(data)}, '{sig}') ev"
            v = c.sql(rewrite(c, sql)).to_arrow_table().column(0)[0].as_py()
            assert v == {"a": "7", "b": 3}
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in sigs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_runtime_refusals_carry_amps_error_not_python_text(ctx):
    with pytest.raises(AmpError) as ei:
        q(ctx, "SELECT evm_decode_hex(evm_encode_hex('0x" + USDC.hex() + "'))")
    assert str(ei.value) == (
        "query execution error | Caused by: Error during planning: "
        "evm_decode_hex: expected Array, but got FixedSizeBinary(20)"
    )
    assert (
        clean_error_text(
            "DataFusion error: x PyErr { type: <class 'ValueError'>, value: "
            "ValueError('boom'), traceback: None } y"
        )
        == "x boom y"
    )
