"""Amp's raw table schemas, the arrow-rs serde JSON form of Arrow types, and manifest hashing.

* `RAW_SCHEMAS[kind][table]` are the exact Arrow schemas Amp writes for `evm-rpc` and `firehose`
  datasets (PROTOCOL §4). They were checked column by column against the real Amp parquet files in
  `amp_local/snapshots` (see `tests/unit/test_schemas.py`); where PROTOCOL and the snapshot
  manifests disagree, the parquet files win (they are what Amp writes today).
* `type_to_serde` / `type_from_serde` convert between `pyarrow.DataType` and arrow-rs' serde form
  (`"UInt64"`, `{"FixedSizeBinary":32}`, `{"Timestamp":["Nanosecond","+00:00"]}`, `{"List":{field}}`…);
  `schema_to_serde` / `schema_from_serde` do the same for `{"arrow":{"fields":[{name,type,nullable}]}}`.
* `raw_manifest(kind, network)` is what `ampctl manifest generate` emits.
* `canonical_json` / `manifest_hash`: the form Amp hashes (PROTOCOL §5.1). Amp deserializes a manifest
  into typed Rust structs and re-serializes it with `serde_json::to_string`, so:
    - output is compact (no whitespace), non-ASCII is written as UTF-8, not `\\u` escapes;
    - **struct** fields come out in declaration order, not sorted:
        derived manifest  `kind, dependencies, tables, functions`
        derived table     `input, schema`;  input `sql`
        function          `inputTypes, outputType, source`;  source `source, filename`
        raw manifest      `kind, network, start_block, finalized_blocks_only, tables`
        raw table         `schema, network`
        table schema      `arrow`;  arrow schema `fields`;  field `name, type, nullable`
        nested field (List/Struct/Map children)
                          `name, nullable, data_type, dict_id, dict_is_ordered, metadata`
      (raw-manifest and nested-field order as in Amp's snapshot manifests);
    - **maps** (`BTreeMap`: dependencies, tables, functions, field metadata) come out key-sorted;
    - defaults are materialised (`dependencies/tables/functions` → `{}`, `start_block` → 0,
      `finalized_blocks_only` → false) and unknown keys are dropped, as serde does.
  Anything that is not a recognised manifest is emitted with all keys sorted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

__all__ = [
    "RAW_KINDS",
    "RAW_SCHEMAS",
    "RAW_TABLES",
    "TIMESTAMP",
    "canonical_json",
    "field_from_serde",
    "field_to_serde",
    "manifest_hash",
    "raw_manifest",
    "raw_schema",
    "schema_from_serde",
    "schema_to_serde",
    "type_from_serde",
    "type_to_serde",
]

# --------------------------------------------------------------------------------------------------
# Raw table schemas (PROTOCOL §4, verified against the snapshot parquet files)
# --------------------------------------------------------------------------------------------------

TIMESTAMP = pa.timestamp("ns", tz="+00:00")
_U64 = pa.uint64()
_U32 = pa.uint32()
_I32 = pa.int32()
_H32 = pa.binary(32)
_A20 = pa.binary(20)
_DEC = pa.decimal128(38, 0)
_BIN = pa.binary()
_STR = pa.string()
_BOOL = pa.bool_()


def _f(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


def _list(item: pa.DataType) -> pa.DataType:
    return pa.list_(pa.field("item", item, nullable=False))


BLOCKS = pa.schema(
    [
        _f("_block_num", _U64),
        _f("block_num", _U64),
        _f("timestamp", TIMESTAMP),
        _f("hash", _H32),
        _f("parent_hash", _H32),
        _f("ommers_hash", _H32),
        _f("miner", _A20),
        _f("state_root", _H32),
        _f("transactions_root", _H32),
        _f("receipt_root", _H32),
        _f("logs_bloom", _BIN),
        _f("difficulty", _DEC),
        _f("total_difficulty", _DEC, True),
        _f("gas_limit", _U64),
        _f("gas_used", _U64),
        _f("extra_data", _BIN),
        _f("mix_hash", _H32),
        _f("nonce", _U64),
        _f("base_fee_per_gas", _DEC, True),
        _f("withdrawals_root", _H32, True),
        _f("blob_gas_used", _U64, True),
        _f("excess_blob_gas", _U64, True),
        _f("parent_beacon_root", _H32, True),
        _f("requests_hash", _H32, True),
    ]
)

LOGS = pa.schema(
    [
        _f("_block_num", _U64),
        _f("block_hash", _H32),
        _f("block_num", _U64),
        _f("timestamp", TIMESTAMP),
        _f("tx_hash", _H32),
        _f("tx_index", _U32),
        _f("log_index", _U32),
        _f("address", _A20),
        _f("topic0", _H32, True),
        _f("topic1", _H32, True),
        _f("topic2", _H32, True),
        _f("topic3", _H32, True),
        _f("data", _BIN),
    ]
)

_TX_HEAD = [
    _f("_block_num", _U64),
    _f("block_hash", _H32),
    _f("block_num", _U64),
    _f("timestamp", TIMESTAMP),
    _f("tx_index", _U32),
    _f("tx_hash", _H32),
    _f("to", _A20, True),
    _f("nonce", _U64),
    _f("gas_price", _DEC, True),
    _f("gas_limit", _U64),
]

RPC_TRANSACTIONS = pa.schema(
    [
        *_TX_HEAD,
        _f("value", _STR),
        _f("input", _BIN),
        _f("r", _H32),
        _f("s", _H32),
        _f("v_parity", _BOOL),
        _f("chain_id", _U64, True),
        _f("gas_used", _U64),
        _f("type", _I32),
        _f("max_fee_per_gas", _DEC, True),
        _f("max_priority_fee_per_gas", _DEC, True),
        _f("max_fee_per_blob_gas", _DEC, True),
        _f("from", _A20),
        _f("status", _BOOL),
        _f("state_root", _H32, True),
        _f(
            "access_list",
            _list(pa.struct([_f("address", _A20), _f("storage_keys", _list(_H32))])),
            True,
        ),
        _f("blob_versioned_hashes", _list(_H32), True),
        _f(
            "authorization_list",
            _list(
                pa.struct(
                    [
                        _f("chain_id", _U64),
                        _f("address", _A20),
                        _f("nonce", _U64),
                        _f("y_parity", _BOOL),
                        _f("r", _H32),
                        _f("s", _H32),
                    ]
                )
            ),
            True,
        ),
    ]
)

FIREHOSE_TRANSACTIONS = pa.schema(
    [
        *_TX_HEAD,
        _f("value", _STR, True),
        _f("input", _BIN),
        _f("v", _BIN),
        _f("r", _BIN),
        _f("s", _BIN),
        _f("gas_used", _U64),
        _f("type", _I32),
        _f("max_fee_per_gas", _DEC, True),
        _f("max_priority_fee_per_gas", _DEC, True),
        _f("from", _A20),
        _f("status", _I32),
        _f("return_data", _BIN),
        _f("public_key", _BIN),
        _f("begin_ordinal", _U64),
        _f("end_ordinal", _U64),
    ]
)

CALLS = pa.schema(
    [
        _f("_block_num", _U64),
        _f("block_hash", _H32),
        _f("block_num", _U64),
        _f("timestamp", TIMESTAMP),
        _f("tx_index", _U32),
        _f("tx_hash", _H32),
        _f("index", _U32),
        _f("parent_index", _U32),
        _f("depth", _U32),
        _f("call_type", _I32),
        _f("caller", _A20),
        _f("address", _A20),
        _f("value", _DEC, True),
        _f("gas_limit", _U64),
        _f("gas_consumed", _U64),
        _f("return_data", _BIN),
        _f("input", _BIN),
        _f("selfdestruct", _BOOL),
        _f("executed_code", _BOOL),
        _f("begin_ordinal", _U64),
        _f("end_ordinal", _U64),
    ]
)

RAW_SCHEMAS: dict[str, dict[str, pa.Schema]] = {
    "evm-rpc": {"blocks": BLOCKS, "transactions": RPC_TRANSACTIONS, "logs": LOGS},
    "firehose": {
        "blocks": BLOCKS,
        "transactions": FIREHOSE_TRANSACTIONS,
        "calls": CALLS,
        "logs": LOGS,
    },
}
RAW_KINDS = tuple(RAW_SCHEMAS)
RAW_TABLES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in RAW_SCHEMAS.items()}


def raw_schema(kind: str, table: str) -> pa.Schema:
    """The Arrow schema of raw table `table` of a dataset of kind `kind` (`_block_num` first)."""
    try:
        return RAW_SCHEMAS[kind][table]
    except KeyError:
        raise KeyError(f"no raw table {table!r} for dataset kind {kind!r}") from None


# --------------------------------------------------------------------------------------------------
# arrow-rs serde form of DataType / Field / Schema
# --------------------------------------------------------------------------------------------------

_UNIT_TYPES: dict[str, pa.DataType] = {
    "Null": pa.null(),
    "Boolean": pa.bool_(),
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Float16": pa.float16(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "Date32": pa.date32(),
    "Date64": pa.date64(),
    "Binary": pa.binary(),
    "LargeBinary": pa.large_binary(),
    "BinaryView": pa.binary_view(),
    "Utf8": pa.string(),
    "LargeUtf8": pa.large_string(),
    "Utf8View": pa.string_view(),
}
_UNIT_NAMES = {t: n for n, t in _UNIT_TYPES.items()}
_UNITS = {"s": "Second", "ms": "Millisecond", "us": "Microsecond", "ns": "Nanosecond"}
_UNITS_REV = {v: k for k, v in _UNITS.items()}
_INTERVALS = {"MonthDayNano": pa.month_day_nano_interval()}
_DECIMALS: dict[str, Any] = {"Decimal128": pa.decimal128, "Decimal256": pa.decimal256}
if hasattr(pa, "decimal32"):  # pyarrow >= 19
    _DECIMALS["Decimal32"] = pa.decimal32
    _DECIMALS["Decimal64"] = pa.decimal64
_DECIMAL_IDS = {
    getattr(pa.lib, f"Type_DECIMAL{w}", None): f"Decimal{w}" for w in (32, 64, 128, 256)
}


def _metadata_to_serde(md: dict | None) -> dict[str, str]:
    if not md:
        return {}
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in sorted(md.items())
    }


def field_to_serde(field: pa.Field, dict_is_ordered: bool | None = None) -> dict:
    """A nested arrow-rs `Field` (List item, Struct child, Map entry) in serde form."""
    if dict_is_ordered is None:
        dict_is_ordered = bool(getattr(field.type, "ordered", False))
    return {
        "name": field.name,
        "nullable": field.nullable,
        "data_type": type_to_serde(field.type),
        "dict_id": 0,
        "dict_is_ordered": dict_is_ordered,
        "metadata": _metadata_to_serde(field.metadata),
    }


def field_from_serde(obj: dict) -> pa.Field:
    """Inverse of `field_to_serde` (accepts `type` as an alias of `data_type`)."""
    typ = type_from_serde(obj["data_type"] if "data_type" in obj else obj["type"])
    if obj.get("dict_is_ordered") and pa.types.is_dictionary(typ):
        typ = pa.dictionary(typ.index_type, typ.value_type, ordered=True)
    md = obj.get("metadata") or None
    return pa.field(obj["name"], typ, nullable=bool(obj.get("nullable", True)), metadata=md)


def type_to_serde(t: pa.DataType) -> str | dict:
    """pyarrow DataType → arrow-rs serde JSON value (`"UInt64"`, `{"FixedSizeBinary":32}`, …)."""
    name = _UNIT_NAMES.get(t)
    if name is not None:
        return name
    if pa.types.is_timestamp(t):
        return {"Timestamp": [_UNITS[t.unit], t.tz]}
    if pa.types.is_fixed_size_binary(t) and not pa.types.is_decimal(t):
        return {"FixedSizeBinary": t.byte_width}
    if pa.types.is_decimal(t):
        return {_DECIMAL_IDS[t.id]: [t.precision, t.scale]}
    if pa.types.is_time32(t) or pa.types.is_time64(t):
        return {("Time32" if pa.types.is_time32(t) else "Time64"): _UNITS[t.unit]}
    if pa.types.is_duration(t):
        return {"Duration": _UNITS[t.unit]}
    if pa.types.is_interval(t):
        return {"Interval": "MonthDayNano"}
    if pa.types.is_map(t):  # before is_list: MapType subclasses ListType
        entries = pa.field("entries", pa.struct([t.key_field, t.item_field]), nullable=False)
        return {"Map": [field_to_serde(entries), bool(t.keys_sorted)]}
    if pa.types.is_fixed_size_list(t):
        return {"FixedSizeList": [field_to_serde(t.value_field), t.list_size]}
    if pa.types.is_list(t):
        return {"List": field_to_serde(t.value_field)}
    if pa.types.is_large_list(t):
        return {"LargeList": field_to_serde(t.value_field)}
    if pa.types.is_list_view(t):
        return {"ListView": field_to_serde(t.value_field)}
    if pa.types.is_large_list_view(t):
        return {"LargeListView": field_to_serde(t.value_field)}
    if pa.types.is_struct(t):
        return {"Struct": [field_to_serde(t.field(i)) for i in range(t.num_fields)]}
    if pa.types.is_dictionary(t):
        return {"Dictionary": [type_to_serde(t.index_type), type_to_serde(t.value_type)]}
    raise TypeError(f"no arrow-rs serde form implemented for Arrow type {t}")


def type_from_serde(obj: str | dict) -> pa.DataType:
    """arrow-rs serde JSON value → pyarrow DataType. Inverse of `type_to_serde`."""
    if isinstance(obj, str):
        try:
            return _UNIT_TYPES[obj]
        except KeyError:
            raise ValueError(f"unknown or unsupported Arrow data type {obj!r}") from None
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError(f"invalid arrow-rs serde data type: {obj!r}")
    ((variant, arg),) = obj.items()
    if variant == "Timestamp":
        unit, tz = arg
        return pa.timestamp(_UNITS_REV[unit], tz=tz)
    if variant == "FixedSizeBinary":
        return pa.binary(int(arg))
    if variant in _DECIMALS:
        precision, scale = arg
        return _DECIMALS[variant](precision, scale)
    if variant == "Time32":
        return pa.time32(_UNITS_REV[arg])
    if variant == "Time64":
        return pa.time64(_UNITS_REV[arg])
    if variant == "Duration":
        return pa.duration(_UNITS_REV[arg])
    if variant == "Interval" and arg in _INTERVALS:
        return _INTERVALS[arg]
    if variant == "List":
        return pa.list_(field_from_serde(arg))
    if variant == "LargeList":
        return pa.large_list(field_from_serde(arg))
    if variant == "ListView":
        return pa.list_view(field_from_serde(arg))
    if variant == "LargeListView":
        return pa.large_list_view(field_from_serde(arg))
    if variant == "FixedSizeList":
        field, size = arg
        return pa.list_(field_from_serde(field), int(size))
    if variant == "Struct":
        return pa.struct([field_from_serde(f) for f in arg])
    if variant == "Map":
        entries, keys_sorted = arg
        st = type_from_serde(entries["data_type"])
        return pa.map_(st.field(0), st.field(1), keys_sorted=bool(keys_sorted))
    if variant == "Dictionary":
        key, value = arg
        return pa.dictionary(type_from_serde(key), type_from_serde(value))
    raise ValueError(f"unknown or unsupported Arrow data type {obj!r}")


def schema_to_serde(schema: pa.Schema) -> dict:
    """pyarrow Schema → Amp's table schema `{"arrow":{"fields":[{name,type,nullable},…]}}`."""
    return {
        "arrow": {
            "fields": [
                {"name": f.name, "type": type_to_serde(f.type), "nullable": f.nullable}
                for f in schema
            ]
        }
    }


def schema_from_serde(obj: dict) -> pa.Schema:
    """Amp table schema (`{"arrow":{"fields":[…]}}`, or the inner `{"fields":[…]}`) → pyarrow."""
    fields = obj["arrow"]["fields"] if "arrow" in obj else obj["fields"]
    return pa.schema(
        [pa.field(f["name"], type_from_serde(f["type"]), nullable=f["nullable"]) for f in fields]
    )


# --------------------------------------------------------------------------------------------------
# Raw manifest
# --------------------------------------------------------------------------------------------------


def raw_manifest(
    kind: str, network: str, start_block: int = 0, finalized_blocks_only: bool = False
) -> dict:
    """Amp's raw manifest for `kind` (`evm-rpc` | `firehose`), as `ampctl manifest generate` writes it."""
    if kind not in RAW_SCHEMAS:
        raise ValueError(f"unsupported raw dataset kind {kind!r}; expected one of {RAW_KINDS}")
    if not network:
        raise ValueError("network must not be empty")
    if start_block < 0:
        raise ValueError("start_block must be >= 0")
    return {
        "kind": kind,
        "network": network,
        "start_block": int(start_block),
        "finalized_blocks_only": bool(finalized_blocks_only),
        "tables": {
            name: {"schema": schema_to_serde(schema), "network": network}
            for name, schema in sorted(RAW_SCHEMAS[kind].items())
        },
    }


# --------------------------------------------------------------------------------------------------
# Canonical JSON and manifest hash (PROTOCOL §5.1)
# --------------------------------------------------------------------------------------------------


def _sorted_map(obj: Any, value) -> dict:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise TypeError(f"expected a JSON object, got {type(obj).__name__}")
    return {k: value(obj[k]) for k in sorted(obj)}


def _generic(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _generic(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list | tuple):
        return [_generic(v) for v in obj]
    return obj


def _canon_nested_field(f: dict) -> dict:
    return {
        "name": f["name"],
        "nullable": f.get("nullable", True),
        "data_type": _canon_type(f["data_type"] if "data_type" in f else f["type"]),
        "dict_id": f.get("dict_id", 0),
        "dict_is_ordered": f.get("dict_is_ordered", False),
        "metadata": _sorted_map(f.get("metadata"), lambda v: v),
    }


def _canon_type(t: Any) -> Any:
    if isinstance(t, pa.DataType):
        t = type_to_serde(t)
    if not isinstance(t, dict) or len(t) != 1:
        return t
    ((variant, arg),) = t.items()
    if variant in ("List", "LargeList", "ListView", "LargeListView"):
        return {variant: _canon_nested_field(arg)}
    if variant == "FixedSizeList":
        return {variant: [_canon_nested_field(arg[0]), arg[1]]}
    if variant == "Struct":
        return {variant: [_canon_nested_field(f) for f in arg]}
    if variant == "Map":
        return {variant: [_canon_nested_field(arg[0]), arg[1]]}
    if variant == "Dictionary":
        return {variant: [_canon_type(arg[0]), _canon_type(arg[1])]}
    return {variant: _generic(arg)}


def _canon_table_schema(s: dict) -> dict:
    return {
        "arrow": {
            "fields": [
                {"name": f["name"], "type": _canon_type(f["type"]), "nullable": f["nullable"]}
                for f in s["arrow"]["fields"]
            ]
        }
    }


def _canon_derived(m: dict) -> dict:
    def table(t: dict) -> dict:
        return {"input": {"sql": t["input"]["sql"]}, "schema": _canon_table_schema(t["schema"])}

    def function(fn: dict) -> dict:
        out = {"inputTypes": [_canon_type(x) for x in fn["inputTypes"]]}
        out["outputType"] = _canon_type(fn["outputType"])
        out["source"] = {"source": fn["source"]["source"], "filename": fn["source"]["filename"]}
        return out

    return {
        "kind": m["kind"],
        "dependencies": _sorted_map(m.get("dependencies"), lambda v: v),
        "tables": _sorted_map(m.get("tables"), table),
        "functions": _sorted_map(m.get("functions"), function),
    }


def _canon_raw(m: dict) -> dict:
    return {
        "kind": m["kind"],
        "network": m["network"],
        "start_block": m.get("start_block", 0),
        "finalized_blocks_only": m.get("finalized_blocks_only", False),
        "tables": _sorted_map(
            m["tables"],
            lambda t: {"schema": _canon_table_schema(t["schema"]), "network": t["network"]},
        ),
    }


def canonical_json(obj: Any) -> str:
    """The compact `serde_json::to_string` form Amp hashes (see the module docstring for the rules).

    Derived manifests (`"kind": "manifest"`) and raw manifests (`evm-rpc`/`firehose`/`solana`) get
    their struct field order; any other JSON value is emitted with every object's keys sorted.
    """
    if isinstance(obj, dict) and obj.get("kind") == "manifest":
        value = _canon_derived(obj)
    elif isinstance(obj, dict) and obj.get("kind") in (*RAW_KINDS, "solana") and "tables" in obj:
        value = _canon_raw(obj)
    else:
        value = _generic(obj)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def manifest_hash(obj: Any) -> str:
    """Lowercase hex SHA-256 of `canonical_json(obj)` (a manifest's content hash in Amp)."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()
