"""Amp's Arrow → Solidity value conversion, for `evm_encode_type` and `evm_encode_params`.

A port of `scalar_to_sol_value`, `array_to_sol_value`, `int_to_sol_value` and `uint_to_sol_value` in
Amp's `crates/core/common/src/udfs/evm_common.rs`, messages included. They differ on purpose:

* a literal (DataFusion `ScalarValue`) must be non-NULL: a NULL of any type is
  `Unsupported type <type> for Solidity type <ty>`; Utf8View/LargeUtf8 and BinaryView/LargeBinary
  literals are accepted as `string`/`bytes`;
* a column value (`array_to_sol_value`) reads the slot whether or not it is NULL, as Rust's
  `value(idx)` does (a NULL integer encodes as 0, a NULL string as ""), and only Utf8/Binary columns
  are strings/bytes;
* integers convert by Arrow signedness: Int8–Int64 only to `intN`, UInt8–UInt64 only to `uintN`
  (`expected int type, got uint256`), decimals with a scale > 0 are unsupported, floats never convert.

The results are Python values for `eth_abi.encode`. `arrow_type_display` renders Arrow types the way
arrow-rs prints them in those messages (`Decimal128(10, 2)`, `List(Int64)`, `FixedSizeList(2 x UInt64)`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from amp_local.evm_abi import SolType


class ConversionError(ValueError):
    """A value Amp refuses to convert (DataFusion `Plan` error text)."""


# --------------------------------------------------------------------------------------------------
# Arrow type display (arrow-rs `impl Display for DataType`)
# --------------------------------------------------------------------------------------------------

_SIMPLE_TYPES = {
    pa.null(): "Null",
    pa.bool_(): "Boolean",
    pa.int8(): "Int8",
    pa.int16(): "Int16",
    pa.int32(): "Int32",
    pa.int64(): "Int64",
    pa.uint8(): "UInt8",
    pa.uint16(): "UInt16",
    pa.uint32(): "UInt32",
    pa.uint64(): "UInt64",
    pa.float16(): "Float16",
    pa.float32(): "Float32",
    pa.float64(): "Float64",
    pa.string(): "Utf8",
    pa.large_string(): "LargeUtf8",
    pa.string_view(): "Utf8View",
    pa.binary(): "Binary",
    pa.large_binary(): "LargeBinary",
    pa.binary_view(): "BinaryView",
    pa.date32(): "Date32",
    pa.date64(): "Date64",
}


def _field_display(field: pa.Field) -> str:
    return (
        arrow_type_display(field.type)
        if field.nullable
        else ("non-null " + arrow_type_display(field.type))
    )


def arrow_type_display(t: pa.DataType) -> str:
    """How arrow-rs (57, as in Amp and DataFusion) prints a data type."""
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    if pa.types.is_fixed_size_binary(t):
        return f"FixedSizeBinary({t.byte_width})"
    if pa.types.is_decimal128(t):
        return f"Decimal128({t.precision}, {t.scale})"
    if pa.types.is_decimal256(t):
        return f"Decimal256({t.precision}, {t.scale})"
    if pa.types.is_timestamp(t):
        tz = f', "{t.tz}"' if t.tz else ""
        return f"Timestamp({t.unit}{tz})"
    if pa.types.is_fixed_size_list(t):
        return f"FixedSizeList({t.list_size} x {_field_display(t.value_field)})"
    if pa.types.is_large_list(t):
        return f"LargeList({_field_display(t.value_field)})"
    if pa.types.is_list(t):
        return f"List({_field_display(t.value_field)})"
    if pa.types.is_struct(t):
        fields = ", ".join(f'"{f.name}": {_field_display(f)}' for f in t)
        return f"Struct({fields})"
    return str(t)


# --------------------------------------------------------------------------------------------------
# int_to_sol_value / uint_to_sol_value
# --------------------------------------------------------------------------------------------------


def int_to_sol(value: int, sol: SolType) -> int:
    if sol.kind != "int":
        raise ConversionError(f"expected int type, got {sol}")
    if sol.size == 256:
        return value
    low, high = -(2 ** (sol.size - 1)), 2 ** (sol.size - 1) - 1
    if not low <= value <= high:
        raise ConversionError(
            f"cannot convert int to solidity int{sol.size}: {value} not in [{low}, {high}]"
        )
    return value


def uint_to_sol(value: int, sol: SolType) -> int:
    if sol.kind != "uint":
        raise ConversionError(f"expected uint type, got {sol}")
    if value < 0:  # Amp's `U256::try_from(…).unwrap()` panics here; refuse in words instead
        raise ConversionError(f"cannot convert negative value {value} to solidity {sol}")
    if sol.size == 256:
        return value
    limit = 2**sol.size
    if value >= limit:
        raise ConversionError(
            f"cannot convert uint to solidity uint{sol.size}: {value} not in [0, {limit})"
        )
    return value


# --------------------------------------------------------------------------------------------------
# Raw slot reads (Rust `array.value(idx)`: the slot's bytes whether the slot is NULL or not)
# --------------------------------------------------------------------------------------------------

_INT_DTYPES = {
    pa.int8(): "<i1",
    pa.int16(): "<i2",
    pa.int32(): "<i4",
    pa.int64(): "<i8",
    pa.uint8(): "<u1",
    pa.uint16(): "<u2",
    pa.uint32(): "<u4",
    pa.uint64(): "<u8",
}


def _slot_int(arr: pa.Array, idx: int) -> int:
    dtype = np.dtype(_INT_DTYPES[arr.type])
    pos = (arr.offset + idx) * dtype.itemsize
    return int(np.frombuffer(arr.buffers()[1], dtype, count=1, offset=pos)[0])


def _slot_bool(arr: pa.Array, idx: int) -> bool:
    bit = arr.offset + idx
    return bool(arr.buffers()[1].to_pybytes()[bit // 8] >> (bit % 8) & 1)


def _slot_decimal(arr: pa.Array, idx: int) -> int:
    width = 16 if pa.types.is_decimal128(arr.type) else 32
    pos = (arr.offset + idx) * width
    return int.from_bytes(arr.buffers()[1].to_pybytes()[pos : pos + width], "little", signed=True)


def _slot_fixed_bytes(arr: pa.Array, idx: int) -> bytes:
    width = arr.type.byte_width
    pos = (arr.offset + idx) * width
    return arr.buffers()[1].to_pybytes()[pos : pos + width]


def _slot_offsets(arr: pa.Array, idx: int) -> tuple[int, int]:
    offsets = np.frombuffer(arr.buffers()[1], "<i4", count=2, offset=(arr.offset + idx) * 4)
    return int(offsets[0]), int(offsets[1])


def _slot_bytes(arr: pa.Array, idx: int) -> bytes:
    start, end = _slot_offsets(arr, idx)
    data = arr.buffers()[2]
    return data.to_pybytes()[start:end] if data is not None else b""


def _slot_list(arr: pa.Array, idx: int) -> pa.Array:
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        return arr.values.slice((arr.offset + idx) * size, size)
    start, end = _slot_offsets(arr, idx)
    return arr.values.slice(start, end - start)


# --------------------------------------------------------------------------------------------------
# array_to_sol_value / scalar_to_sol_value
# --------------------------------------------------------------------------------------------------


def _fixed_bytes_to_sol(value: bytes, sol: SolType) -> object:
    if sol.kind == "fbytes":
        if len(value) == sol.size:
            return value
        raise ConversionError(
            f"cannot convert fixed size binary of size {len(value)} to Solidity fixed bytes of "
            f"size {sol.size}"
        )
    if sol.kind == "address":
        if len(value) == 20:
            return "0x" + value.hex()
        raise ConversionError(
            f"cannot convert fixed size binary of size {len(value)} to Solidity address, "
            "expected 20 bytes"
        )
    raise ConversionError(f"cannot convert fixed size binary to solidity type {sol}")


def _decimal_to_sol(value: int, scale: int, t: pa.DataType, sol: SolType) -> int:
    if scale > 0:
        raise ConversionError(f"Unsupported type {arrow_type_display(t)} for Solidity type {sol}")
    return int_to_sol(value, sol) if sol.kind == "int" else uint_to_sol(value, sol)


def array_to_sol(arr: pa.Array, sol: SolType, idx: int) -> object:
    """Row `idx` of a column as a Solidity value (`array_to_sol_value`)."""
    t = arr.type
    if pa.types.is_boolean(t):
        if sol.kind != "bool":
            raise ConversionError(f"cannot convert boolean to solidity type {sol}")
        return _slot_bool(arr, idx)
    if t in _INT_DTYPES:
        value = _slot_int(arr, idx)
        return int_to_sol(value, sol) if pa.types.is_signed_integer(t) else uint_to_sol(value, sol)
    if pa.types.is_decimal128(t) or pa.types.is_decimal256(t):
        return _decimal_to_sol(_slot_decimal(arr, idx), t.scale, t, sol)
    if t == pa.binary():
        if sol.kind != "bytes":
            raise ConversionError(f"cannot convert bytes to solidity type {sol}")
        return _slot_bytes(arr, idx)
    if pa.types.is_fixed_size_binary(t):
        return _fixed_bytes_to_sol(_slot_fixed_bytes(arr, idx), sol)
    if t == pa.string():
        if sol.kind != "string":
            raise ConversionError(f"cannot convert string to solidity type {sol}")
        return _slot_bytes(arr, idx).decode()
    if pa.types.is_list(t):
        return _list_to_sol(arr, sol, idx)
    if pa.types.is_fixed_size_list(t):
        if sol.kind != "farray":
            raise ConversionError(
                f"cannot convert fixed size list of size {t.list_size} to solidity type {sol}"
            )
        return _fixed_items_to_sol(_slot_list(arr, idx), sol)
    if pa.types.is_struct(t):
        return _struct_to_sol(arr, sol, idx)
    raise ConversionError(f"Unsupported type {arrow_type_display(t)} for Solidity type {sol}")


_SCALAR_STRINGS = (pa.string(), pa.large_string(), pa.string_view())
_SCALAR_BYTES = (pa.binary(), pa.large_binary(), pa.binary_view())


def scalar_to_sol(arr: pa.Array, sol: SolType) -> object:
    """A literal argument (row 0 of the column DataFusion expanded it to) as a Solidity value
    (`scalar_to_sol_value`)."""
    t = arr.type
    unsupported = ConversionError(
        f"Unsupported type {arrow_type_display(t)} for Solidity type {sol}"
    )
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        return _list_scalar_to_sol(arr, sol)
    if pa.types.is_struct(t):
        return _struct_to_sol(arr, sol, 0)
    if len(arr) == 0 or arr.is_null()[0].as_py():
        raise unsupported
    if t in _SCALAR_STRINGS:
        if sol.kind != "string":
            raise ConversionError(f"cannot convert string to solidity type {sol}")
        return arr[0].as_py()
    if t in _SCALAR_BYTES:
        if sol.kind != "bytes":
            raise ConversionError(f"cannot convert bytes to solidity type {sol}")
        return arr[0].as_py()
    if pa.types.is_fixed_size_binary(t):
        if t.byte_width > 32:
            raise unsupported
        if not (sol.kind == "fbytes" and sol.size == t.byte_width) and not (
            sol.kind == "address" and t.byte_width == 20
        ):
            raise ConversionError(f"cannot convert fixed size binary to solidity type {sol}")
        return _fixed_bytes_to_sol(arr[0].as_py(), sol)
    if pa.types.is_boolean(t) or t in _INT_DTYPES or pa.types.is_decimal(t):
        return array_to_sol(arr, sol, 0)
    raise unsupported


def _list_scalar_to_sol(arr: pa.Array, sol: SolType) -> object:
    """List literals: Amp converts the items even of a NULL list (its items are none: `[]`)."""
    if pa.types.is_list(arr.type):
        return _list_to_sol(arr, sol, 0)
    if sol.kind != "farray":  # Amp prints the length of the one-row list array here
        raise ConversionError(f"cannot convert fixed size list of size 1 to solidity type {sol}")
    return _fixed_items_to_sol(_slot_list(arr, 0), sol)


def _list_to_sol(arr: pa.Array, sol: SolType, idx: int) -> list:
    """Row `idx` of a list column as a Solidity dynamic array."""
    if sol.kind != "array":
        raise ConversionError(f"cannot convert list to solidity type {sol}")
    items = _slot_list(arr, idx)
    return [array_to_sol(items, sol.elem, i) for i in range(len(items))]


def _fixed_items_to_sol(items: pa.Array, sol: SolType) -> list:
    """The items of one fixed-size list as a Solidity fixed array (`sol` is a `farray`)."""
    if len(items) != sol.size:
        raise ConversionError(
            f"cannot convert fixed size list of size {len(items)} to solidity type {sol}"
        )
    return [array_to_sol(items, sol.elem, i) for i in range(len(items))]


def _struct_to_sol(arr: pa.Array, sol: SolType, idx: int) -> tuple:
    """Row `idx` of a struct column as a Solidity tuple."""
    if sol.kind != "tuple":
        raise ConversionError(f"cannot convert struct to solidity type {sol}")
    if arr.type.num_fields != len(sol.components):
        raise ConversionError(
            f"cannot convert struct of size {arr.type.num_fields} to solidity type {sol}"
        )
    return tuple(
        array_to_sol(arr.field(i), component, idx) for i, component in enumerate(sol.components)
    )
