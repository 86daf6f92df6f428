"""Arrow types as DataFusion SQL type names, and Arrow values as agate-friendly Python values."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.types as pt

_SIMPLE = {
    pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INT",
    pa.int64(): "BIGINT",
    pa.uint8(): "TINYINT UNSIGNED",
    pa.uint16(): "SMALLINT UNSIGNED",
    pa.uint32(): "INT UNSIGNED",
    pa.uint64(): "BIGINT UNSIGNED",
    pa.float32(): "REAL",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.string_view(): "VARCHAR",
    pa.binary(): "BYTEA",
    pa.large_binary(): "BYTEA",
    pa.binary_view(): "BYTEA",
    pa.date32(): "DATE",
    pa.time64("ns"): "TIME",
    pa.timestamp("ns"): "TIMESTAMP",
    pa.month_day_nano_interval(): "INTERVAL",
}
_UNITS = {"s": "Second", "ms": "Millisecond", "us": "Microsecond", "ns": "Nanosecond"}


def arrow_type_to_sql(dtype: pa.DataType) -> str:
    """A name DataFusion accepts back: a SQL type (`CAST(x AS <name>)`) where one exists, else
    the `arrow_cast(x, '<name>')` spelling (`FixedSizeBinary(20)`,
    `Timestamp(Nanosecond, Some("+00:00"))`)."""
    if dtype in _SIMPLE:
        return _SIMPLE[dtype]
    if pt.is_decimal(dtype):
        return f"DECIMAL({dtype.precision}, {dtype.scale})"
    return arrow_type_name(dtype)


_ARROW_NAMES = {
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
    pa.month_day_nano_interval(): "Interval(MonthDayNano)",
}


def arrow_type_name(dtype: pa.DataType) -> str:
    """Arrow's DataType string syntax, which `arrow_cast(x, '<name>')` parses, for any type
    including nested ones: `List(Struct("address": FixedSizeBinary(20), ...))`. Inner types must
    be spelled this way (`List(BIGINT)` does not parse). Field nullability is left out."""
    if dtype in _ARROW_NAMES:
        return _ARROW_NAMES[dtype]
    if pt.is_decimal(dtype):
        return f"Decimal{dtype.bit_width}({dtype.precision}, {dtype.scale})"
    if pt.is_fixed_size_binary(dtype):
        return f"FixedSizeBinary({dtype.byte_width})"
    if pt.is_timestamp(dtype):
        tz = f'Some("{dtype.tz}")' if dtype.tz else "None"
        return f"Timestamp({_UNITS[dtype.unit]}, {tz})"
    if pt.is_time(dtype):
        return f"Time{dtype.bit_width}({_UNITS[dtype.unit]})"
    if pt.is_duration(dtype):
        return f"Duration({_UNITS[dtype.unit]})"
    if pt.is_fixed_size_list(dtype):
        return f"FixedSizeList({dtype.list_size}, {arrow_type_name(dtype.value_type)})"
    if pt.is_large_list(dtype):
        return f"LargeList({arrow_type_name(dtype.value_type)})"
    if pt.is_list(dtype) or pt.is_list_view(dtype):
        return f"List({arrow_type_name(dtype.value_type)})"
    if pt.is_map(dtype):
        key, item = arrow_type_name(dtype.key_type), arrow_type_name(dtype.item_type)
        order = "sorted" if dtype.keys_sorted else "unsorted"
        return f'Map("entries": Struct("key": {key}, "value": {item}), {order})'
    if pt.is_struct(dtype):
        fields = ", ".join(
            f"{_quoted_field(f.name)}: {arrow_type_name(f.type)}"
            for f in (dtype.field(i) for i in range(dtype.num_fields))
        )
        return f"Struct({fields})"
    if pt.is_dictionary(dtype):
        return (
            f"Dictionary({arrow_type_name(dtype.index_type)}, {arrow_type_name(dtype.value_type)})"
        )
    return str(dtype)


def _quoted_field(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_python_column(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """A column as Python values; nanosecond times are truncated to microseconds (datetime)."""
    dtype = column.type
    if (pt.is_timestamp(dtype) or pt.is_time64(dtype) or pt.is_duration(dtype)) and (
        dtype.unit == "ns"
    ):
        if pt.is_timestamp(dtype):
            target = pa.timestamp("us", dtype.tz)
        elif pt.is_time64(dtype):
            target = pa.time64("us")
        else:
            target = pa.duration("us")
        column = column.cast(target, safe=False)
    values = column.to_pylist()
    if (
        pt.is_binary(dtype)
        or pt.is_fixed_size_binary(dtype)
        or pt.is_large_binary(dtype)
        or (pt.is_binary_view(dtype))
    ):
        return [python_value(v) for v in values]
    return values


def python_value(value: Any) -> Any:
    """Binary (addresses, hashes) as 0x-hex text; everything else as pyarrow gives it."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
