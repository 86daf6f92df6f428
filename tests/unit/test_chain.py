"""amp_local.chain: layout, schemas, determinism, ABI correctness, hash chain, following."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import eth_abi
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from eth_hash.auto import keccak

from amp_local import chain
from amp_local.chain import (
    CONTRACTS,
    GENESIS_TIMESTAMP,
    TOKENS,
    ChainFollower,
    decoded_events,
    erc20_transfers,
    generate_chain,
    read_chain_info,
)
from amp_local.chain import __main__ as chain_cli
from amp_local.schemas import RAW_SCHEMAS, raw_manifest
from amp_local.segments import block_info, file_ranges, synced_range

START = 10_700  # not aligned to EPOCH_BLOCKS nor to blocks_per_file
BLOCKS = 1_600
PER_FILE = 700
LAST = START + BLOCKS - 1

TRANSFER_SIG = "Transfer(address,address,uint256)"
APPROVAL_SIG = "Approval(address,address,uint256)"
SWAP_SIG = "Swap(address,uint256,uint256,uint256,uint256,address)"


def _gen(path: Path, **kw):
    args = {"blocks": BLOCKS, "seed": 7, "start_block": START, "blocks_per_file": PER_FILE}
    args.update(kw)
    return generate_chain(path, **args)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("chain")
    info = _gen(out)
    return out, info


def _read(out: Path, dataset: str, table: str) -> pa.Table:
    files = [f.path for f in file_ranges(out / dataset / table)]
    return pa.concat_tables([pq.read_table(f) for f in files])


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


# ---------------------------------------------------------------------------------------------
# Layout, schemas, manifests, metadata
# ---------------------------------------------------------------------------------------------


def test_layout_and_schemas(generated):
    out, info = generated
    assert info.head == LAST and not info.reused
    for dataset, kind in (("eth_firehose", "firehose"), ("eth_rpc", "evm-rpc")):
        d = out / dataset
        manifest = json.loads((d / "manifest.json").read_text())
        assert manifest == raw_manifest(kind, "mainnet", start_block=START)
        assert sorted(p.name for p in d.iterdir() if p.is_dir()) == sorted(RAW_SCHEMAS[kind])
        for table, schema in RAW_SCHEMAS[kind].items():
            files = sorted((d / table).glob("*.parquet"))
            assert len(files) == 3  # 700 + 700 + 200 blocks
            assert not [p for p in (d / table).iterdir() if not p.name.endswith(".parquet")]
            for f in files:
                assert re.fullmatch(r"\d{9}-[0-9a-f]{16}\.parquet", f.name)
                assert pq.read_schema(f).equals(schema)
                assert pq.read_schema(f).metadata is None  # Amp keeps its metadata in the footer
                t = pq.read_table(f)
                bn = t["_block_num"].to_numpy()
                assert (np.diff(bn) >= 0).all()
                assert t["_block_num"].equals(t["block_num"])
                md = json.loads(pq.read_metadata(f).metadata[b"nozzle_metadata"])
                assert md["table"] == table and md["filename"] == f.name
                (rng,) = md["ranges"]
                assert int(f.name[:9]) == rng["numbers"]["start"]
                assert bn.min() >= rng["numbers"]["start"] and bn.max() <= rng["numbers"]["end"]
                assert rng["network"] == "mainnet"
        assert synced_range(d / "blocks") == (START, LAST)
        assert synced_range(d / "logs") == (START, LAST)
    assert synced_range(out / "eth_rpc" / "calls") is None


def test_file_ranges_carry_hashes(generated):
    out, _ = generated
    ranges = file_ranges(out / "eth_firehose" / "logs")
    assert [(r.start, r.end) for r in ranges] == [
        (START, START + 699),
        (START + 700, START + 1399),
        (START + 1400, LAST),
    ]
    for r in ranges:
        end, start = (
            block_info(out / "eth_firehose" / "blocks", r.end),
            block_info(out / "eth_firehose" / "blocks", r.start),
        )
        assert r.hash == end.hash
        assert r.prev_hash == start.parent_hash
        assert r.timestamp == end.timestamp
    assert block_info(out / "eth_rpc" / "blocks", LAST + 1) is None


def test_chain_json_and_reuse(generated, tmp_path):
    out, info = generated
    meta = read_chain_info(out)
    assert meta.head == LAST and meta.head_hash == info.head_hash
    assert meta.spec == info.spec
    again = _gen(out)
    assert again.reused and again.head == LAST
    # different parameters → regenerated
    other = tmp_path / "c"
    _gen(other, blocks=50)
    assert not _gen(other, blocks=60).reused
    assert synced_range(other / "eth_rpc" / "blocks") == (START, START + 59)
    assert _gen(other, blocks=60).reused


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------


def test_deterministic(generated, tmp_path):
    out, _ = generated
    twin = tmp_path / "twin"
    _gen(twin)
    for dataset, kind in (("eth_firehose", "firehose"), ("eth_rpc", "evm-rpc")):
        for table in RAW_SCHEMAS[kind]:
            a = sorted(p.name for p in (out / dataset / table).glob("*.parquet"))
            assert a == sorted(p.name for p in (twin / dataset / table).glob("*.parquet"))
            for name in a:
                assert pq.read_table(out / dataset / table / name).equals(
                    pq.read_table(twin / dataset / table / name)
                )
    other_seed = tmp_path / "seed8"
    _gen(other_seed, blocks=20, seed=8)
    assert (
        block_info(other_seed / "eth_rpc" / "blocks", START).hash
        != block_info(out / "eth_rpc" / "blocks", START).hash
    )


def test_chunking_does_not_change_content(generated, tmp_path):
    out, _ = generated
    alt = tmp_path / "alt"
    _gen(alt, blocks_per_file=333)
    for table in ("blocks", "transactions", "calls", "logs"):
        assert _read(out, "eth_firehose", table).equals(_read(alt, "eth_firehose", table))


# ---------------------------------------------------------------------------------------------
# Blocks: hash chain, timestamps, bloom
# ---------------------------------------------------------------------------------------------


def test_hash_chain_and_timestamps(generated):
    out, _ = generated
    b = _read(out, "eth_rpc", "blocks").to_pylist()
    assert [r["block_num"] for r in b] == list(range(START, LAST + 1))
    for prev, cur in zip(b, b[1:], strict=False):
        assert cur["parent_hash"] == prev["hash"]
    for r in b[:50]:
        content = (
            r["parent_hash"]
            + r["block_num"].to_bytes(8, "big")
            + r["state_root"]
            + r["transactions_root"]
            + r["receipt_root"]
            + r["miner"]
        )
        assert r["hash"] == keccak(content)
    ts = [int(r["timestamp"].timestamp()) for r in b]
    assert ts[0] == GENESIS_TIMESTAMP
    assert set(np.diff(ts)) == {12}
    assert _read(out, "eth_firehose", "blocks").equals(_read(out, "eth_rpc", "blocks"))


def _bloom(items: list[bytes]) -> bytes:
    bloom = bytearray(256)
    for item in items:
        h = keccak(item)
        for i in (0, 2, 4):
            bit = ((h[i] << 8) | h[i + 1]) & 2047
            bloom[255 - bit // 8] |= 1 << (bit % 8)
    return bytes(bloom)


def test_logs_bloom_and_gas(generated):
    out, _ = generated
    blocks = _read(out, "eth_rpc", "blocks").slice(0, 40).to_pylist()
    logs = _read(out, "eth_rpc", "logs")
    txs = _read(out, "eth_rpc", "transactions")
    for b in blocks:
        mine = logs.filter(pc.equal(logs["block_num"], b["block_num"])).to_pylist()
        items = []
        for lg in mine:
            items.append(lg["address"])
            items += [lg[f"topic{i}"] for i in range(4) if lg[f"topic{i}"] is not None]
        assert b["logs_bloom"] == _bloom(items)
        gas = pc.sum(txs.filter(pc.equal(txs["block_num"], b["block_num"]))["gas_used"]).as_py()
        assert b["gas_used"] == (gas or 0) <= b["gas_limit"]


# ---------------------------------------------------------------------------------------------
# Logs: ABI correctness vs eth_abi and ground truth
# ---------------------------------------------------------------------------------------------


def _decode_log(lg: dict) -> tuple[str, dict]:
    t0 = lg["topic0"]
    topics = [lg[f"topic{i}"] for i in range(4)]
    if t0 == keccak(TRANSFER_SIG.encode()) and topics[3] is None:
        (value,) = eth_abi.decode(["uint256"], lg["data"])
        return "Transfer", {
            "from": bytes.fromhex(eth_abi.decode(["address"], topics[1])[0][2:]),
            "to": bytes.fromhex(eth_abi.decode(["address"], topics[2])[0][2:]),
            "value": value,
        }
    if t0 == keccak(TRANSFER_SIG.encode()):
        assert lg["data"] == b""
        return "TransferERC721", {
            "from": bytes.fromhex(eth_abi.decode(["address"], topics[1])[0][2:]),
            "to": bytes.fromhex(eth_abi.decode(["address"], topics[2])[0][2:]),
            "tokenId": eth_abi.decode(["uint256"], topics[3])[0],
        }
    if t0 == keccak(APPROVAL_SIG.encode()):
        (value,) = eth_abi.decode(["uint256"], lg["data"])
        return "Approval", {
            "owner": bytes.fromhex(eth_abi.decode(["address"], topics[1])[0][2:]),
            "spender": bytes.fromhex(eth_abi.decode(["address"], topics[2])[0][2:]),
            "value": value,
        }
    assert t0 == keccak(SWAP_SIG.encode())
    a0i, a1i, a0o, a1o = eth_abi.decode(["uint256"] * 4, lg["data"])
    return "Swap", {
        "sender": bytes.fromhex(eth_abi.decode(["address"], topics[1])[0][2:]),
        "amount0In": a0i,
        "amount1In": a1i,
        "amount0Out": a0o,
        "amount1Out": a1o,
        "to": bytes.fromhex(eth_abi.decode(["address"], topics[2])[0][2:]),
    }


def test_logs_decode_to_ground_truth(generated):
    out, _ = generated
    logs = _read(out, "eth_firehose", "logs").to_pylist()
    truth = decoded_events(out)
    assert len(logs) == len(truth) > 1000
    kinds = set()
    for lg, ev in zip(logs, truth, strict=True):
        assert (lg["block_num"], lg["log_index"], lg["tx_hash"], lg["address"]) == (
            ev.block_num,
            ev.log_index,
            ev.tx_hash,
            ev.address,
        )
        name, args = _decode_log(lg)
        assert (name, args) == (ev.event, ev.args)
        kinds.add(name)
    assert kinds == {"Transfer", "TransferERC721", "Approval", "Swap"}
    assert _read(out, "eth_firehose", "logs").equals(_read(out, "eth_rpc", "logs"))


def test_fast_encoding_equals_eth_abi(generated):
    out, _ = generated
    logs = _read(out, "eth_rpc", "logs").slice(0, 400).to_pylist()
    seen_unlimited = False
    for lg in logs:
        name, args = _decode_log(lg)
        assert lg["topic1"] == eth_abi.encode(["address"], ["0x" + list(args.values())[0].hex()])
        if name in ("Transfer", "Approval"):
            assert lg["data"] == eth_abi.encode(["uint256"], [args["value"]])
            seen_unlimited |= args["value"] == 2**256 - 1
        elif name == "Swap":
            vals = [args[k] for k in ("amount0In", "amount1In", "amount0Out", "amount1Out")]
            assert lg["data"] == eth_abi.encode(["uint256"] * 4, vals)
            assert sum(v > 0 for v in vals) == 2
        else:
            assert lg["topic3"] == eth_abi.encode(["uint256"], [args["tokenId"]])
    assert seen_unlimited  # approvals of 2**256-1 exceed Decimal128


def test_log_addresses_and_token_decimals(generated):
    out, _ = generated
    by_addr = {c.address: c for c in CONTRACTS}
    assert {t.symbol: t.decimals for t in TOKENS} == {
        "USDC": 6,
        "USDT": 6,
        "WETH": 18,
        "DAI": 18,
        "GRT": 18,
    }
    for ev in decoded_events(out, START, START + 200):
        c = by_addr[ev.address]
        expected = {"Transfer": "erc20", "Approval": "erc20", "TransferERC721": "erc721"}
        assert c.kind == expected.get(ev.event, "pair")
        if ev.event == "Approval":
            assert ev.args["spender"] == chain.contract_address("ROUTER")


def test_erc20_transfers_ground_truth_via_datafusion(generated):
    import datafusion

    out, _ = generated
    ctx = datafusion.SessionContext()
    ctx.register_parquet("logs", str(out / "eth_rpc" / "logs"))
    topic = keccak(TRANSFER_SIG.encode()).hex()
    rows = ctx.sql(
        f"SELECT block_num, log_index, address, topic1, topic2, data FROM logs "
        f"WHERE topic0 = decode('{topic}', 'hex') AND topic3 IS NULL AND block_num <= {START + 300} "
        f"ORDER BY block_num, log_index"
    ).to_arrow_table()
    truth = erc20_transfers(out, end=START + 300)
    assert rows.num_rows == len(truth) > 100
    for r, t in zip(rows.to_pylist(), truth, strict=True):
        assert (r["block_num"], r["log_index"], r["address"]) == (
            t.block_num,
            t.log_index,
            t.token,
        )
        assert r["topic1"][12:] == t.sender and r["topic2"][12:] == t.recipient
        assert int.from_bytes(r["data"], "big") == t.value


# ---------------------------------------------------------------------------------------------
# Transactions and calls
# ---------------------------------------------------------------------------------------------


def test_transactions_consistent(generated):
    out, _ = generated
    rpc = _read(out, "eth_rpc", "transactions")
    fh = _read(out, "eth_firehose", "transactions")
    for col in (
        "block_num",
        "tx_index",
        "tx_hash",
        "from",
        "to",
        "nonce",
        "value",
        "input",
        "type",
    ):
        assert rpc[col].equals(fh[col]), col
    assert rpc["status"].equals(pc.equal(fh["status"], 1))
    assert set(fh["status"].to_pylist()) == {1, 3}
    assert rpc["to"].null_count > 0  # contract creations
    logs = _read(out, "eth_rpc", "logs")
    tx_by_hash = {r["tx_hash"]: r for r in rpc.to_pylist()}
    assert len(tx_by_hash) == rpc.num_rows
    for lg in logs.slice(0, 2000).to_pylist():
        tx = tx_by_hash[lg["tx_hash"]]
        assert (tx["block_num"], tx["tx_index"]) == (lg["block_num"], lg["tx_index"])
        assert tx["status"] is True
    failed = {h for h, t in tx_by_hash.items() if not t["status"]}
    assert failed and not failed & set(logs["tx_hash"].to_pylist())
    # per-block tx_index 0..n-1
    for bn, n in zip(*np.unique(rpc["block_num"].to_numpy(), return_counts=True), strict=True):
        idx = rpc.filter(pc.equal(rpc["block_num"], bn))["tx_index"].to_pylist()
        assert idx == list(range(n))
        if bn > START + 30:
            break


def test_calldata_is_real_abi(generated):
    out, _ = generated
    txs = _read(out, "eth_rpc", "transactions").slice(0, 500).to_pylist()
    logs = {(r["tx_hash"], r["log_index"]): r for r in _read(out, "eth_rpc", "logs").to_pylist()}
    by_tx: dict[bytes, list[dict]] = {}
    for lg in logs.values():
        by_tx.setdefault(lg["tx_hash"], []).append(lg)
    sel = {
        "transfer": keccak(b"transfer(address,uint256)")[:4],
        "approve": keccak(b"approve(address,uint256)")[:4],
        "transferFrom": keccak(b"transferFrom(address,address,uint256)")[:4],
        "swap": keccak(b"swap(uint256,uint256,address,bytes)")[:4],
    }
    assert sel["transfer"].hex() == "a9059cbb"
    seen = set()
    for tx in txs:
        inp = tx["input"]
        evs = sorted(by_tx.get(tx["tx_hash"], []), key=lambda r: r["log_index"])
        if inp[:4] == sel["transfer"]:
            to, value = eth_abi.decode(["address", "uint256"], inp[4:])
            assert inp[4:] == eth_abi.encode(["address", "uint256"], [to, value])
            if tx["status"]:
                assert (
                    evs[0]["topic2"][12:].hex() == to[2:].lower() and evs[0]["address"] == tx["to"]
                )
                assert int.from_bytes(evs[0]["data"], "big") == value
            seen.add("transfer")
        elif inp[:4] == sel["approve"]:
            spender, value = eth_abi.decode(["address", "uint256"], inp[4:])
            assert bytes.fromhex(spender[2:]) == chain.contract_address("ROUTER")
            seen.add("approve")
        elif inp[:4] == sel["transferFrom"]:
            frm, to, token_id = eth_abi.decode(["address", "address", "uint256"], inp[4:])
            assert bytes.fromhex(frm[2:]) == tx["from"]
            if tx["status"]:
                assert int.from_bytes(evs[0]["topic3"], "big") == token_id
            seen.add("transferFrom")
        elif inp[:4] == sel["swap"]:
            a0o, a1o, to, data = eth_abi.decode(
                ["uint256", "uint256", "address", "bytes"], inp[4:]
            )
            assert inp[4:] == eth_abi.encode(
                ["uint256", "uint256", "address", "bytes"], [a0o, a1o, to, data]
            )
            assert bytes.fromhex(to[2:]) == tx["from"] and data == b""
            if tx["status"]:
                _, swap = _decode_log(evs[2])
                assert (swap["amount0Out"], swap["amount1Out"]) == (a0o, a1o)
            seen.add("swap")
        elif inp == b"":
            assert int(tx["value"]) > 0 and tx["gas_used"] == 21_000
            seen.add("eth")
    assert seen == {"transfer", "approve", "transferFrom", "swap", "eth"}


def test_calls(generated):
    out, _ = generated
    calls = _read(out, "eth_firehose", "calls")
    txs = _read(out, "eth_firehose", "transactions")
    roots = calls.filter(pc.equal(calls["depth"], 0))
    assert roots.num_rows == txs.num_rows
    assert roots["tx_hash"].equals(txs["tx_hash"])
    assert roots["input"].equals(txs["input"])
    assert roots["caller"].equals(txs["from"])
    children = calls.filter(pc.equal(calls["depth"], 1))
    assert children.num_rows > 0
    assert set(children["parent_index"].to_pylist()) == {1}
    assert set(children["index"].to_pylist()) == {2}
    assert set(calls["call_type"].to_pylist()) == {1, 5}
    # ETH value: tx value string == root call Decimal128 value
    eth = roots.filter(pc.invert(pc.is_null(roots["value"])))
    tx_val = dict(zip(txs["tx_hash"].to_pylist(), txs["value"].to_pylist(), strict=True))
    for h, v in zip(eth["tx_hash"].to_pylist(), eth["value"].to_pylist(), strict=True):
        assert int(tx_val[h]) == int(v)
    # ordinals nest inside their transaction
    tx_ord = {
        h: (b, e)
        for h, b, e in zip(
            txs["tx_hash"].to_pylist(),
            txs["begin_ordinal"].to_pylist(),
            txs["end_ordinal"].to_pylist(),
            strict=True,
        )
    }
    for h, b, e in zip(
        calls["tx_hash"].to_pylist(),
        calls["begin_ordinal"].to_pylist(),
        calls["end_ordinal"].to_pylist(),
        strict=True,
    ):
        tb, te = tx_ord[h]
        assert tb < b < e < te


# ---------------------------------------------------------------------------------------------
# Following
# ---------------------------------------------------------------------------------------------


def test_follower_continues_chain_deterministically(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _gen(a, blocks=120)
    _gen(b, blocks=131)
    fake_now = [2_000_000_000.0]
    f = ChainFollower(a, interval_seconds=60, now=lambda: fake_now[0])
    assert f.append_blocks(1) == (START + 120, START + 120)
    fake_now[0] += 5
    assert f.append_blocks(10) == (START + 121, START + 130)
    assert read_chain_info(a).head == START + 130
    for dataset in ("eth_rpc", "eth_firehose"):
        assert synced_range(a / dataset / "blocks") == (START, START + 130)
        assert synced_range(a / dataset / "logs") == (START, START + 130)
    # same content and hashes as a chain generated 11 blocks longer; only timestamps differ
    for table in ("blocks", "transactions", "calls", "logs"):
        ta, tb = _read(a, "eth_firehose", table), _read(b, "eth_firehose", table)
        assert ta.drop_columns(["timestamp"]).equals(tb.drop_columns(["timestamp"])), table
    blocks = _read(a, "eth_rpc", "blocks").to_pylist()
    for prev, cur in zip(blocks, blocks[1:], strict=False):
        assert cur["parent_hash"] == prev["hash"]
    ts = [int(r["timestamp"].timestamp()) for r in blocks]
    assert ts[120] == 2_000_000_000
    # 10 blocks appended 5 s later: strictly increasing wins over "now"
    assert ts[-10:] == list(range(2_000_000_001, 2_000_000_011))
    assert (np.diff(ts) > 0).all()
    info = block_info(a / "eth_rpc" / "blocks", START + 130)
    assert (
        info.timestamp == ts[-1]
        and info.hash == block_info(b / "eth_rpc" / "blocks", START + 130).hash
    )
    fake_now[0] += 100
    f.append_blocks(3)
    assert [block_info(a / "eth_rpc" / "blocks", START + 131 + i).timestamp for i in range(3)] == [
        2_000_000_103,
        2_000_000_104,
        2_000_000_105,
    ]
    _gen(b, blocks=134)
    # ground truth covers followed blocks too
    assert decoded_events(a, START + 121) == decoded_events(b, START + 121)
    # the reuse check accepts a chain that has been followed further
    assert _gen(a, blocks=120).reused


def test_follower_thread_and_atomic_files(tmp_path):
    out = tmp_path / "f"
    _gen(out, blocks=30, tx_per_block=40)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            for table_dir in (out / "eth_firehose").iterdir():
                if not table_dir.is_dir():
                    continue
                for p in table_dir.glob("*.parquet"):
                    try:
                        pq.read_table(p)
                    except FileNotFoundError:
                        pass
                    except Exception as exc:  # a partial file would land here
                        errors.append(exc)

    th = threading.Thread(target=reader)
    th.start()
    appended = []
    try:
        with ChainFollower(
            out,
            interval_seconds=0.02,
            blocks_per_tick=2,
            on_append=lambda a, b: appended.append(b),
        ) as follower:
            deadline = time.time() + 10
            while len(appended) < 8 and time.time() < deadline:
                time.sleep(0.02)
        assert follower.error is None
    finally:
        stop.set()
        th.join()
    assert not errors
    assert len(appended) >= 8
    head = read_chain_info(out).head
    assert head == START + 29 + 2 * len(appended)
    assert synced_range(out / "eth_firehose" / "calls") == (START, head)
    leftovers = [p for p in out.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not leftovers
    latest = block_info(out / "eth_firehose" / "blocks", head)
    assert abs(latest.timestamp - time.time()) < 30  # followed blocks are "now"


def test_cli_generates(tmp_path, capsys):
    assert chain_cli.main([str(tmp_path / "cli"), "--blocks", "15", "--seed", "3"]) == 0
    assert "generated" in capsys.readouterr().out
    assert chain_cli.main([str(tmp_path / "cli"), "--blocks", "15", "--seed", "3"]) == 0
    assert "reused" in capsys.readouterr().out
    assert os.path.exists(tmp_path / "cli" / "eth_rpc" / "manifest.json")
