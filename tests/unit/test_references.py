import pytest

from dbt.adapters.amp.references import validate_dependencies
from dbt.adapters.amp.sql_text import strip_trailing_comments


@pytest.mark.parametrize(
    "ref",
    [
        "_/eth_firehose@1.0.0",
        "edgeandnode/eth_rpc@0.4.10-rc.1+20230502",
        "_/eth_rpc@latest",
        "ns/x@dev",
        "_/eth_rpc@" + "a" * 64,
    ],
)
def test_valid_references(ref):
    assert validate_dependencies({"eth": ref}) == {"eth": ref}


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
