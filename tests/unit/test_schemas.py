"""amp_local.schemas against Amp's real snapshot files, schema JSON and hashing rules."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from amp_local.bundled import AMP_SCHEMAS_DIR
from amp_local.bundled import SNAPSHOTS_DIR as SNAPSHOTS
from amp_local.schemas import (
    RAW_SCHEMAS,
    RAW_TABLES,
    canonical_json,
    manifest_hash,
    raw_manifest,
    raw_schema,
    schema_from_serde,
    schema_to_serde,
    type_from_serde,
    type_to_serde,
)

SNAPSHOT_KINDS = {"eth_rpc": "evm-rpc", "eth_firehose": "firehose", "base_rpc": "evm-rpc"}


def _snapshot_files():
    return sorted(SNAPSHOTS.glob("*/*/*.parquet"))


def _snapshot_manifests():
    return sorted(SNAPSHOTS.glob("*/manifest.json"))


def _raw_json_schema(accept_object_types: bool) -> dict:
    schema = json.loads((AMP_SCHEMAS_DIR / "manifest-raw.schema.json").read_text())
    if accept_object_types:
        # The published schema declares DataType as a plain string, but Amp's own manifests use the
        # arrow-rs serde form, where parameterised types are objects ({"FixedSizeBinary":32}).
        schema["$defs"]["DataType"] = {"type": ["string", "object"]}
    return schema


# ---------------------------------------------------------------------------------------------
# Raw schemas == real Amp parquet files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _snapshot_files(), ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}")
def test_raw_schema_matches_snapshot_parquet(path: Path):
    kind = SNAPSHOT_KINDS[path.parts[-3]]
    table = path.parts[-2]
    actual = pq.read_schema(path).remove_metadata()
    expected = raw_schema(kind, table)
    assert actual.names == expected.names
    for a, e in zip(actual, expected, strict=True):
        assert (a.name, a.type, a.nullable) == (e.name, e.type, e.nullable)
    assert actual.equals(expected)  # includes nested field names/nullability


def test_raw_tables_per_kind():
    assert RAW_TABLES == {
        "evm-rpc": ("blocks", "transactions", "logs"),
        "firehose": ("blocks", "transactions", "calls", "logs"),
    }
    for tables in RAW_SCHEMAS.values():
        for schema in tables.values():
            assert schema.names[0] == "_block_num"
            assert schema.field("_block_num").type == pa.uint64()
            assert schema.field("timestamp").type == pa.timestamp("ns", tz="+00:00")
    assert RAW_SCHEMAS["evm-rpc"]["blocks"] is RAW_SCHEMAS["firehose"]["blocks"]
    assert RAW_SCHEMAS["evm-rpc"]["logs"] is RAW_SCHEMAS["firehose"]["logs"]
    with pytest.raises(KeyError):
        raw_schema("evm-rpc", "calls")


# ---------------------------------------------------------------------------------------------
# serde form
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "serde"),
    [
        (pa.uint64(), "UInt64"),
        (pa.int32(), "Int32"),
        (pa.bool_(), "Boolean"),
        (pa.string(), "Utf8"),
        (pa.large_string(), "LargeUtf8"),
        (pa.string_view(), "Utf8View"),
        (pa.binary(), "Binary"),
        (pa.large_binary(), "LargeBinary"),
        (pa.binary_view(), "BinaryView"),
        (pa.float64(), "Float64"),
        (pa.date32(), "Date32"),
        (pa.null(), "Null"),
        (pa.binary(32), {"FixedSizeBinary": 32}),
        (pa.decimal128(38, 0), {"Decimal128": [38, 0]}),
        (pa.decimal256(76, 0), {"Decimal256": [76, 0]}),
        (pa.timestamp("ns", tz="+00:00"), {"Timestamp": ["Nanosecond", "+00:00"]}),
        (pa.timestamp("ms"), {"Timestamp": ["Millisecond", None]}),
        (pa.time64("us"), {"Time64": "Microsecond"}),
        (pa.duration("s"), {"Duration": "Second"}),
        (pa.dictionary(pa.int32(), pa.string()), {"Dictionary": ["Int32", "Utf8"]}),
        (
            pa.list_(pa.field("item", pa.int64(), nullable=True)),
            {
                "List": {
                    "name": "item",
                    "nullable": True,
                    "data_type": "Int64",
                    "dict_id": 0,
                    "dict_is_ordered": False,
                    "metadata": {},
                }
            },
        ),
        (
            pa.struct([pa.field("a", pa.binary(20), nullable=False)]),
            {
                "Struct": [
                    {
                        "name": "a",
                        "nullable": False,
                        "data_type": {"FixedSizeBinary": 20},
                        "dict_id": 0,
                        "dict_is_ordered": False,
                        "metadata": {},
                    }
                ]
            },
        ),
    ],
    ids=str,
)
def test_type_serde_round_trip(typ, serde):
    assert type_to_serde(typ) == serde
    assert type_from_serde(serde) == typ
    # and through JSON text
    assert type_from_serde(json.loads(json.dumps(serde))) == typ


@pytest.mark.parametrize(
    "typ",
    [
        pa.large_list(pa.field("x", pa.utf8(), nullable=False)),
        pa.list_(pa.field("item", pa.int8()), 3),
        pa.map_(pa.string(), pa.int64()),
        pa.list_(pa.field("item", pa.int8(), metadata={"k": "v"})),
    ],
    ids=str,
)
def test_nested_type_round_trip(typ):
    assert type_from_serde(type_to_serde(typ)) == typ


def test_unknown_serde_type_rejected():
    with pytest.raises(ValueError):
        type_from_serde("FixedSizeBinary(32)")  # display form, not serde
    with pytest.raises(ValueError):
        type_from_serde({"Bogus": 1})


@pytest.mark.parametrize("path", _snapshot_manifests(), ids=lambda p: p.parts[-2])
def test_snapshot_manifest_types_round_trip_exactly(path: Path):
    manifest = json.loads(path.read_text())
    for table in manifest["tables"].values():
        for f in table["schema"]["arrow"]["fields"]:
            # exact, including List item fields' key order (name, nullable, data_type, dict_id, …)
            assert json.dumps(type_to_serde(type_from_serde(f["type"]))) == json.dumps(f["type"])
        assert schema_to_serde(schema_from_serde(table["schema"])) == table["schema"]


@pytest.mark.parametrize("kind", ["evm-rpc", "firehose"])
def test_schema_serde_round_trip(kind):
    for schema in RAW_SCHEMAS[kind].values():
        assert schema_from_serde(schema_to_serde(schema)).equals(schema)
        assert schema_from_serde(schema_to_serde(schema)["arrow"]).equals(schema)


# ---------------------------------------------------------------------------------------------
# Raw manifest
# ---------------------------------------------------------------------------------------------


def test_raw_manifest_equals_current_snapshot_manifest():
    # eth_rpc/manifest.json is current (its schemas equal the parquet files), byte-for-byte modulo
    # indentation: same key order everywhere.
    snap = json.loads((SNAPSHOTS / "eth_rpc" / "manifest.json").read_text())
    ours = raw_manifest("evm-rpc", "mainnet", start_block=15_000_000)
    assert json.dumps(ours) == json.dumps(snap)
    assert canonical_json(snap) == canonical_json(ours)
    assert manifest_hash(snap) == manifest_hash(ours)


@pytest.mark.parametrize("name", ["eth_firehose", "base_rpc"])
def test_stale_snapshot_manifests_are_older_than_their_parquet(name):
    """These two manifests predate `_block_num` (and more); the parquet files are authoritative."""
    snap = json.loads((SNAPSHOTS / name / "manifest.json").read_text())
    for table, t in snap["tables"].items():
        names = [f["name"] for f in t["schema"]["arrow"]["fields"]]
        assert "_block_num" not in names
        assert not schema_from_serde(t["schema"]).equals(raw_schema(SNAPSHOT_KINDS[name], table))


@pytest.mark.parametrize("kind", ["evm-rpc", "firehose"])
def test_raw_manifest_validates(kind):
    import jsonschema

    m = raw_manifest(kind, "mainnet", start_block=5, finalized_blocks_only=True)
    jsonschema.validate(m, _raw_json_schema(accept_object_types=True))
    assert m["kind"] == kind and m["network"] == "mainnet"
    assert m["start_block"] == 5 and m["finalized_blocks_only"] is True
    assert list(m) == ["kind", "network", "start_block", "finalized_blocks_only", "tables"]
    assert list(m["tables"]) == sorted(RAW_SCHEMAS[kind])
    for name, t in m["tables"].items():
        assert list(t) == ["schema", "network"]
        assert schema_from_serde(t["schema"]).equals(RAW_SCHEMAS[kind][name])
    # Documented discrepancy: the published JSON schema types DataType as a string, which rejects
    # every real manifest (object forms such as {"FixedSizeBinary":32}).
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(m, _raw_json_schema(accept_object_types=False))


def test_raw_manifest_rejects_bad_input():
    with pytest.raises(ValueError):
        raw_manifest("solana", "mainnet")
    with pytest.raises(ValueError):
        raw_manifest("evm-rpc", "")


# ---------------------------------------------------------------------------------------------
# canonical JSON / hash
# ---------------------------------------------------------------------------------------------

DERIVED = {
    "kind": "manifest",
    "dependencies": {"eth": "_/eth_firehose@1.0.0", "base": "_/base_rpc@0.0.0"},
    "tables": {
        "erc20_transfers": {
            "input": {"sql": "SELECT _block_num, block_num FROM eth.logs"},
            "schema": {
                "arrow": {
                    "fields": [
                        {"name": "_block_num", "type": "UInt64", "nullable": False},
                        {
                            "name": "ts",
                            "type": {"Timestamp": ["Nanosecond", "+00:00"]},
                            "nullable": False,
                        },
                    ]
                }
            },
        },
        "a_table": {
            "input": {"sql": "SELECT 1 AS _block_num -- é"},
            "schema": {
                "arrow": {"fields": [{"name": "_block_num", "type": "UInt64", "nullable": False}]}
            },
        },
    },
    "functions": {
        "addSuffix": {
            "inputTypes": ["Utf8"],
            "outputType": "Utf8",
            "source": {"source": "function(s){return s+'x'}", "filename": "a.js"},
        }
    },
}


def _shuffled(obj):
    """Same JSON value with every object's keys in reverse order."""
    if isinstance(obj, dict):
        return {k: _shuffled(obj[k]) for k in reversed(list(obj))}
    if isinstance(obj, list):
        return [_shuffled(v) for v in obj]
    return obj


def test_canonical_json_derived_manifest_order():
    s = canonical_json(DERIVED)
    assert s == json.dumps(json.loads(s), separators=(",", ":"), ensure_ascii=False)  # compact
    assert s.startswith('{"kind":"manifest","dependencies":{"base":"_/base_rpc@0.0.0","eth":')
    # struct order kind, dependencies, tables, functions; BTreeMap tables sorted; input before schema
    assert s.index('"dependencies"') < s.index('"tables"') < s.index('"functions"')
    assert s.index('"a_table"') < s.index('"erc20_transfers"')
    assert '"a_table":{"input":{"sql":' in s
    assert '{"name":"_block_num","type":"UInt64","nullable":false}' in s
    assert '"addSuffix":{"inputTypes":["Utf8"],"outputType":"Utf8","source":{"source":' in s
    assert "é" in s  # UTF-8, not \u escapes (serde_json)
    assert canonical_json(_shuffled(DERIVED)) == s
    assert manifest_hash(_shuffled(DERIVED)) == hashlib.sha256(s.encode()).hexdigest()
    assert len(manifest_hash(DERIVED)) == 64 and manifest_hash(DERIVED).islower()


def test_canonical_json_defaults_and_unknown_keys():
    minimal = {"kind": "manifest"}
    assert (
        canonical_json(minimal)
        == '{"kind":"manifest","dependencies":{},"tables":{},"functions":{}}'
    )
    extra = copy.deepcopy(DERIVED)
    extra["unknown"] = 1
    assert manifest_hash(extra) == manifest_hash(DERIVED)
    changed = copy.deepcopy(DERIVED)
    changed["tables"]["a_table"]["input"]["sql"] += " "
    assert manifest_hash(changed) != manifest_hash(DERIVED)


def test_canonical_json_raw_manifest():
    m = raw_manifest("firehose", "mainnet")
    s = canonical_json(_shuffled(m))
    assert s == json.dumps(m, separators=(",", ":"))
    assert s.startswith('{"kind":"firehose","network":"mainnet","start_block":0,')
    no_defaults = {k: v for k, v in m.items() if k not in ("start_block", "finalized_blocks_only")}
    assert canonical_json(no_defaults) == s


def test_canonical_json_nested_list_field_order():
    m = raw_manifest("evm-rpc", "mainnet")
    s = canonical_json(_shuffled(m))
    assert (
        '{"List":{"name":"item","nullable":false,"data_type":{"FixedSizeBinary":32},'
        '"dict_id":0,"dict_is_ordered":false,"metadata":{}}}'
    ) in s


def test_canonical_json_generic_sorts_keys():
    assert canonical_json({"b": 1, "a": [{"d": 1, "c": None}]}) == '{"a":[{"c":null,"d":1}],"b":1}'
