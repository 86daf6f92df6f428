"""Fixture values a binary column cannot hold are errors (not safe_cast's silent NULLs)."""

import pytest

from dbt.adapters.amp.fixtures import binary_problem, check_fixture_rows

ADDRESS = "0x" + "ab" * 20


@pytest.mark.parametrize(
    "value,data_type,problem",
    [
        (ADDRESS, "FixedSizeBinary(20)", None),
        (ADDRESS.upper().replace("0X", "0x"), "FixedSizeBinary(20)", None),
        (None, "FixedSizeBinary(20)", None),
        ("0x" + "ab" * 19, "FixedSizeBinary(20)", "is 19 bytes, but the column is FixedSizeBinary(20): expected 20 bytes (40 hex digits after 0x)"),
        ("0x" + "ab" * 21, "FixedSizeBinary(20)", "is 21 bytes"),
        ("0xabc", "BYTEA", "has an odd number of hex digits (3)"),
        ("0xzz", "FixedSizeBinary(1)", "is not hex"),
        ("0x", "BYTEA", None),
        ("plain text", "FixedSizeBinary(20)", "as text it is 10 bytes, but the column is FixedSizeBinary(20) (20 bytes)"),
        ("a" * 20, "FixedSizeBinary(20)", None),
        ("0x12", "VARCHAR", None),
        (12, "FixedSizeBinary(20)", None),
    ],
)  # fmt: skip
def test_binary_problem(value, data_type, problem):
    found = binary_problem(value, data_type)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_check_fixture_rows_names_fixture_row_and_column():
    rows = [{"Address": ADDRESS}, {"Address": "0x1234"}]
    with pytest.raises(ValueError) as exc:
        check_fixture_rows(rows, {"address": "FixedSizeBinary(20)"}, "'logs'")
    assert str(exc.value).startswith(
        "Unit test fixture for 'logs', row 2, column 'Address': '0x1234' is 2 bytes"
    )
    check_fixture_rows(rows[:1], {"address": "FixedSizeBinary(20)"}, "'logs'")
    check_fixture_rows(None, {}, "expected output")
