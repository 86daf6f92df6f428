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
    if pt.is_fixed_size_binary(dtype):
        return f"FixedSizeBinary({dtype.byte_width})"
    if pt.is_timestamp(dtype):
        tz = f'Some("{dtype.tz}")' if dtype.tz else "None"
        return f"Timestamp({_UNITS[dtype.unit]}, {tz})"
    if pt.is_float16(dtype):
        return "Float16"
    if pt.is_date64(dtype):
        return "Date64"
    if pt.is_time(dtype):
        return f"Time{dtype.bit_width}({_UNITS[dtype.unit]})"
    if pt.is_duration(dtype):
        return f"Duration({_UNITS[dtype.unit]})"
    if pt.is_null(dtype):
        return "Null"
    if pt.is_list(dtype) or pt.is_large_list(dtype) or pt.is_list_view(dtype):
        return f"List({arrow_type_to_sql(dtype.value_type)})"
    return str(dtype)


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
