import datetime

import pyarrow as pa
import pytest

from dbt.adapters.amp.column import AmpColumn
from dbt.adapters.amp.connections import AmpConnectionManager
from dbt.adapters.amp.types import to_python_column


@pytest.mark.parametrize(
    "dtype,name",
    [
        (pa.int64(), "BIGINT"),
        (pa.uint64(), "BIGINT UNSIGNED"),
        (pa.float64(), "DOUBLE"),
        (pa.string(), "VARCHAR"),
        (pa.string_view(), "VARCHAR"),
        (pa.large_string(), "VARCHAR"),
        (pa.binary(), "BYTEA"),
        (pa.binary_view(), "BYTEA"),
        (pa.binary(20), "FixedSizeBinary(20)"),
        (pa.decimal128(38, 0), "DECIMAL(38, 0)"),
        (pa.decimal256(76, 10), "DECIMAL(76, 10)"),
        (pa.timestamp("ns", "+00:00"), 'Timestamp(Nanosecond, Some("+00:00"))'),
        (pa.timestamp("ns"), "TIMESTAMP"),
        (pa.timestamp("us"), "Timestamp(Microsecond, None)"),
        (pa.date32(), "DATE"),
        (pa.bool_(), "BOOLEAN"),
        # nested types: Arrow's own names inside, which arrow_cast() parses (not `List(BIGINT)`)
        (pa.list_(pa.int64()), "List(Int64)"),
        (pa.list_(pa.binary(32)), "List(FixedSizeBinary(32))"),
        (
            pa.list_(
                pa.struct(
                    [
                        pa.field("address", pa.binary(20), nullable=False),
                        pa.field("storage_keys", pa.list_(pa.binary(32))),
                    ]
                )
            ),
            'List(Struct("address": FixedSizeBinary(20), "storage_keys": List(FixedSizeBinary(32))))',
        ),
        (
            pa.struct([("n", pa.uint64()), ("d", pa.decimal256(76, 0)), ("s", pa.string())]),
            'Struct("n": UInt64, "d": Decimal256(76, 0), "s": Utf8)',
        ),
        (
            pa.map_(pa.string(), pa.int64()),
            'Map("entries": Struct("key": Utf8, "value": Int64), unsorted)',
        ),
        (pa.list_(pa.int32(), 3), "FixedSizeList(3, Int32)"),
    ],
)
def test_type_names(dtype, name):
    assert AmpConnectionManager.data_type_code_to_name(dtype) == name


def test_column_predicates():
    assert AmpColumn("a", "VARCHAR").is_string()
    assert AmpColumn("a", "FixedSizeBinary(20)").is_binary()
    assert AmpColumn("a", "BIGINT UNSIGNED").is_integer()
    assert AmpColumn("a", "DECIMAL(38, 0)").is_numeric() and AmpColumn("a", "DOUBLE").is_float()
    assert AmpColumn("a", 'Timestamp(Nanosecond, Some("+00:00"))').is_timestamp()


def test_python_values():
    ts = pa.array([1_700_000_000_123_456_789], pa.timestamp("ns", "UTC"))
    assert to_python_column(ts)[0] == datetime.datetime(
        2023, 11, 14, 22, 13, 20, 123456, tzinfo=datetime.timezone.utc
    )
    assert to_python_column(pa.array([b"\x01\xab"], pa.binary(2))) == ["0x01ab"]
    assert to_python_column(pa.array([b"\x01"], pa.binary_view())) == ["0x01"]
