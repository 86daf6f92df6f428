"""Columns with DataFusion / Arrow type names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dbt.adapters.base.column import Column

STRING_TYPES = ("utf8", "largeutf8", "utf8view", "string", "large_string", "string_view")
STRING_TYPES += ("varchar", "text", "char", "character varying")
BINARY_PREFIXES = ("binary", "large_binary", "binary_view", "fixed_size_binary", "bytea")
BINARY_PREFIXES += ("varbinary", "fixedsizebinary", "largebinary", "binaryview")
INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
INTEGER_TYPES += ("tinyint", "smallint", "int", "integer", "bigint")
INTEGER_TYPES += ("tinyint unsigned", "smallint unsigned", "int unsigned", "bigint unsigned")
FLOAT_TYPES = ("float", "double", "real", "float16", "float32", "float64", "halffloat")
FLOAT_TYPES += ("double precision",)


@dataclass
class AmpColumn(Column):
    TYPE_LABELS: ClassVar[dict[str, str]] = {
        "STRING": "VARCHAR",
        "TEXT": "VARCHAR",
        "TIMESTAMP": "TIMESTAMP",
        "FLOAT": "DOUBLE",
        "INTEGER": "BIGINT",
    }

    @property
    def _base(self) -> str:
        return self.dtype.strip().lower().split("(")[0].split("[")[0].strip()

    @property
    def data_type(self) -> str:
        return self.dtype

    def is_string(self) -> bool:
        return self._base in STRING_TYPES

    def is_binary(self) -> bool:
        return self._base.startswith(BINARY_PREFIXES)

    def is_integer(self) -> bool:
        return self._base in INTEGER_TYPES

    def is_float(self) -> bool:
        return self._base in FLOAT_TYPES

    def is_numeric(self) -> bool:
        return self._base in ("decimal", "numeric", "decimal128", "decimal256")

    def is_number(self) -> bool:
        return self.is_integer() or self.is_float() or self.is_numeric()

    def is_timestamp(self) -> bool:
        return self._base.startswith("timestamp")

    def string_size(self) -> int:
        if not self.is_string():
            raise ValueError("Called string_size() on non-string field!")
        return self.char_size or 0

    @classmethod
    def string_type(cls, size: int) -> str:
        return "VARCHAR"

    @classmethod
    def numeric_type(cls, dtype: str, precision: int | None, scale: int | None) -> str:
        if precision is None or scale is None:
            return dtype
        return f"DECIMAL({precision}, {scale})"
