"""Unit-test fixture values that would silently become NULL on Amp are errors instead.

Fixture rows are cast to their column types with safe_cast, which gives NULL for a value that does
not convert (that is its job). On a binary column that hides a typo: a '0x…' address one digit
short would become NULL and the test would test something else. So a value that cannot be the
bytes of its binary column is a compile error naming the fixture, row, column and both lengths.
"""

from __future__ import annotations

import re
import string
from typing import Any

_FIXED_SIZE = re.compile(r"FixedSizeBinary\(\s*(\d+)\s*\)", re.IGNORECASE)
_VARIABLE = ("bytea", "binary", "varbinary", "blob", "largebinary", "binaryview")


def binary_problem(value: Any, data_type: str) -> str | None:
    """Why `value` cannot be a value of the binary column type `data_type`, or None."""
    fixed = _FIXED_SIZE.fullmatch(data_type.strip())
    if not isinstance(value, str) or not (fixed or data_type.strip().lower() in _VARIABLE):
        return None
    if value[:2] not in ("0x", "0X"):
        if fixed and len(value.encode()) != int(fixed.group(1)):
            return (
                f"{value!r} is not '0x…' hex, and as text it is {len(value.encode())} bytes, "
                f"but the column is {data_type} ({fixed.group(1)} bytes)"
            )
        return None
    digits = value[2:]
    if not all(c in string.hexdigits for c in digits):
        return f"{value!r} is not hex: after 0x only 0-9 and a-f may follow"
    if len(digits) % 2:
        return f"{value!r} has an odd number of hex digits ({len(digits)}): two per byte"
    if fixed and len(digits) != 2 * int(fixed.group(1)):
        width = int(fixed.group(1))
        return (
            f"{value!r} is {len(digits) // 2} bytes, but the column is {data_type}: "
            f"expected {width} bytes ({2 * width} hex digits after 0x)"
        )
    return None


def check_fixture_rows(rows: Any, data_types: dict[str, str], fixture: str) -> None:
    """Raise ValueError for the first value in `rows` that its binary column cannot hold."""
    for number, row in enumerate(rows or [], start=1):
        for column, value in (row or {}).items():
            data_type = data_types.get(str(column).lower())
            problem = binary_problem(value, data_type) if data_type else None
            if problem:
                raise ValueError(
                    f"Unit test fixture for {fixture}, row {number}, column '{column}': {problem}"
                )
