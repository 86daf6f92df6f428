"""Arrow results as agate tables: exact decimals, text for strings and bytes, dbt's names."""

import io
import json
from decimal import Decimal

import agate
import pyarrow as pa

from dbt.adapters.amp.results import arrow_to_agate

MAX_D76 = "9" * 76


def test_decimals_stay_exact_in_values_print_and_json():
    table = arrow_to_agate(
        pa.table(
            {
                "big": pa.array([Decimal(MAX_D76), None], pa.decimal256(76, 0)),
                "d38": pa.array([Decimal("1" * 37), Decimal(0)], pa.decimal128(38, 0)),
                "tiny": pa.array([Decimal("1E-7"), Decimal("2.5")], pa.decimal128(38, 18)),
                "small": pa.array([Decimal("1.5"), Decimal("-2")], pa.decimal128(10, 2)),
                "scaled": pa.array([Decimal("12300"), None], pa.decimal128(10, -2)),
            }
        )
    )
    assert table.rows[0]["big"] == Decimal(MAX_D76)
    assert [str(v) for v in table.columns["tiny"]] == [
        "0.000000100000000000",
        "2.500000000000000000",
    ]
    assert str(table.rows[0]["scaled"]) == "12300"
    printed = io.StringIO()
    table.print_table(output=printed, max_column_width=80)  # agate's Number raised here
    assert MAX_D76 in printed.getvalue()
    dumped = io.StringIO()
    table.to_json(dumped)
    assert json.loads(dumped.getvalue()) == [
        {"big": int(MAX_D76), "d38": int("1" * 37), "tiny": "0.000000100000000000",
         "small": 1.5, "scaled": 12300},
        {"big": None, "d38": 0, "tiny": "2.500000000000000000", "small": -2.0, "scaled": None},
    ]  # fmt: skip


def test_text_binary_nested_and_inferred_columns():
    table = arrow_to_agate(
        pa.table(
            {
                "s": pa.array(["005", None], pa.string()),
                "b": pa.array([b"\xab" * 20, None], pa.binary(20)),
                "st": pa.array(
                    [{"v": Decimal(MAX_D76)}, None],
                    pa.struct([("v", pa.decimal256(76, 0))]),
                ),
                "n": pa.array([1, 2], pa.int64()),
                "f": pa.array([1.5, None], pa.float64()),
                "ok": pa.array([True, None], pa.bool_()),
            }
        )
    )
    types = [type(t).__name__ for t in table.column_types]
    assert types == ["Text", "Text", "Text", "Integer", "Number", "Boolean"]
    assert table.rows[0]["s"] == "005" and table.rows[0]["b"] == "0x" + "ab" * 20
    assert json.loads(table.rows[0]["st"]) == {"v": int(MAX_D76)}  # not a float
    assert table.rows[1]["st"] is None


def test_duplicate_names_and_empty_results():
    table = arrow_to_agate(
        pa.table([pa.array([1]), pa.array([2]), pa.array([3])], ["n", "n", "n"])
    )
    assert table.column_names == ("n", "n_2", "n_3")
    empty = arrow_to_agate(pa.table({"x": pa.array([], pa.decimal256(76, 0))}))
    assert isinstance(empty, agate.Table) and empty.column_names == ("x",) and not empty.rows
