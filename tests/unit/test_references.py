import pytest

from dbt.adapters.amp.references import validate_dependencies


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
