"""Arrow results as agate tables: what `run_query`, `dbt show`, data tests and unit-test diffs see.

dbt builds result tables by sniffing Python values. That loses Amp's big decimals: a DECIMAL(76, 0)
sum of uint256 amounts becomes an agate `Number`, which `dbt show` prints through babel at the
default 28 digits of decimal precision (`decimal.InvalidOperation`) and writes to JSON as a float.
Here decimal columns get their type from the Arrow schema instead (every digit kept, printed in
fixed-point, exact in JSON); string, binary and nested columns are text; everything else is typed
by dbt's own type tester as before.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import agate
import pyarrow as pa
import pyarrow.types as pt
from dbt_common.clients.agate_helper import build_type_tester
from dbt_common.utils.encoding import ForgivingJSONEncoder

from dbt.adapters.amp.types import to_python_column

# Up to 15 significant digits a JSON float (shortest repr) gives back the same decimal.
_FLOAT_SAFE_DIGITS = 15


class ExactDecimalValue(Decimal):
    """A Decimal that prints in fixed-point (`0.000000100`, not `1.00E-7`; `12300`, not
    `1.23E+4`), so `dbt show` and Jinja show the number as Amp returned it."""

    __slots__ = ()

    def __str__(self) -> str:
        return format(self, "f")


class ExactDecimal(agate.data_types.DataType):
    """An agate type for one Arrow decimal column. Not an agate `Number`: agate prints those
    through babel, which rounds to 28 digits (and raises past them)."""

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(null_values=())
        self.precision, self.scale = precision, scale

    def cast(self, d: Any) -> ExactDecimalValue | None:
        if d is None:
            return None
        if isinstance(d, (Decimal, int, str)) and not isinstance(d, bool):
            try:
                return ExactDecimalValue(d)
            except ArithmeticError:
                pass
        raise agate.exceptions.CastError(f"Can not parse value {d!r} as an exact decimal.")

    def jsonify(self, d: Decimal | None) -> int | float | str | None:
        """An integer for scale <= 0; a float where it is exact (<= 15 digits); else the exact
        fixed-point text (JSON floats cannot hold 38 or 76 digits)."""
        if d is None:
            return None
        if self.scale <= 0:
            return int(d)
        if self.precision <= _FLOAT_SAFE_DIGITS:
            return float(d)
        return format(d, "f")

    def csvify(self, d: Decimal | None) -> str | None:
        return None if d is None else format(d, "f")


class _ExactJSONEncoder(ForgivingJSONEncoder):
    """dbt's encoder for nested values, with decimals exact (dbt's turns them into floats)."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return int(obj) if obj == obj.to_integral_value() else format(obj, "f")
        return super().default(obj)


def _is_text(dtype: pa.DataType) -> bool:
    return (
        pt.is_string(dtype)
        or pt.is_large_string(dtype)
        or pt.is_string_view(dtype)
        or pt.is_binary(dtype)
        or pt.is_large_binary(dtype)
        or pt.is_binary_view(dtype)
        or pt.is_fixed_size_binary(dtype)
        or pt.is_nested(dtype)
    )


def unique_column_names(names: list[str]) -> list[str]:
    """dbt's renaming of duplicate result columns: `n`, `n_2`, `n_3`."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        if name in seen:
            seen[name] += 1
            unique.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 1
            unique.append(name)
    return unique


def arrow_to_agate(table: pa.Table) -> agate.Table:
    """`table` as an agate table (exact decimals, text for strings, hex for binary, JSON text for
    lists and structs)."""
    names = unique_column_names(table.column_names)
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        values = to_python_column(column)
        if pt.is_nested(field.type):
            values = [None if v is None else json.dumps(v, cls=_ExactJSONEncoder) for v in values]
        columns.append(values)
    rows = list(zip(*columns, strict=True)) if columns else []
    text_columns = [n for n, f in zip(names, table.schema, strict=True) if _is_text(f.type)]
    inferred = build_type_tester(text_columns, string_null_values=()).run(rows, names)
    types = [
        ExactDecimal(f.type.precision, f.type.scale) if pt.is_decimal(f.type) else inferred[i]
        for i, f in enumerate(table.schema)
    ]
    return agate.Table(rows, names, column_types=types)
