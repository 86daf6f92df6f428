"""Dataset references: one table of Amp's rules (tests/data/dataset_references.csv) that both the
adapter's `dependencies` validation and amp_local's SQL reference parser are tested against, so
the two cannot drift apart (they share no code: amp_local imports nothing of the adapter)."""

import csv
from pathlib import Path

import pytest

from amp_local.references import DatasetReference, InvalidReference
from dbt.adapters.amp.references import validate_dependencies, validate_reference
from dbt.adapters.amp.sql_text import strip_trailing_comments

TABLE = Path(__file__).parents[1] / "data" / "dataset_references.csv"
with TABLE.open(newline="", encoding="utf-8") as _file:
    REFERENCES = list(csv.DictReader(_file))


def _cases(column: str) -> list:
    return [
        pytest.param(
            row["reference"], row[column] == "valid", id=f"{row['rule']}: {row['reference']!r}"
        )
        for row in REFERENCES
    ]


def test_the_table_covers_both_outcomes():
    for column in ("sql", "dependency"):
        assert {row[column] for row in REFERENCES} == {"valid", "invalid"}


@pytest.mark.parametrize("reference,valid", _cases("dependency"))
def test_adapter_dependency_references(reference, valid):
    if valid:
        assert validate_dependencies({"eth": reference}) == {"eth": reference}
    else:
        with pytest.raises(ValueError, match="is not an Amp dataset reference"):
            validate_reference(reference)


@pytest.mark.parametrize("reference,valid", _cases("sql"))
def test_amp_local_sql_references(reference, valid):
    if valid:
        parsed = DatasetReference.parse(reference)
        assert reference.endswith(parsed.name) or f"{parsed.name}@{parsed.revision}" in reference
    else:
        with pytest.raises(InvalidReference):
            DatasetReference.parse(reference)


@pytest.mark.parametrize(
    "deps,message",
    [
        ({"eth": "eth_firehose"}, "not an Amp dataset reference"),
        ({"eth": "_/eth-firehose@1.0.0"}, "not an Amp dataset reference"),
        ({"eth": "_/Eth@1.0.0"}, "not an Amp dataset reference"),
        ({"eth": "_/eth@v1"}, "not an Amp dataset reference"),
        ({"eth": "_/eth@" + "a" * 63}, "not an Amp dataset reference"),
        ({"1eth": "_/eth@1.0.0"}, "alias '1eth' is not valid"),
        ({"_eth": "_/eth@1.0.0"}, "is not valid"),
        ({"a" * 64: "_/eth@1.0.0"}, "is not valid"),
        ({"self": "_/eth@1.0.0"}, "reserved"),
        (["_/eth@1.0.0"], "expected a mapping"),
    ],
)
def test_invalid(deps, message):
    with pytest.raises(ValueError, match=message):
        validate_dependencies(deps)


def test_empty():
    assert validate_dependencies(None) == {} == validate_dependencies("")


@pytest.mark.parametrize(
    "sql,expected",
    [
        ("select 1 limit 5 -- note", "select 1 limit 5"),
        ("select 1 limit 5; -- note\n", "select 1 limit 5"),
        ("select 1 /* a */ /* b */\n -- c\n;", "select 1"),
        ("select 1 -- c\n;  -- d", "select 1"),
        ("select 1\n-- limit 5", "select 1"),
        ("select 1 /* unterminated", "select 1"),
        ("select '--x' as a limit 5", "select '--x' as a limit 5"),
        ("select '--x' as a -- c", "select '--x' as a"),
        ("select 'it''s -- no' as x limit 2; -- c", "select 'it''s -- no' as x limit 2"),
        ('select 1 as "a--b"', 'select 1 as "a--b"'),
        ("select '/* x' as a", "select '/* x' as a"),
        ("select 1 -- a\n, 2 as b", "select 1 -- a\n, 2 as b"),
    ],
)
def test_strip_trailing_comments(sql, expected):
    assert strip_trailing_comments(sql) == expected
