"""The adapter's event-signature parser against amp_local's (which follows Amp's alloy parser) on
one table of signatures: the two share no code, only these tests, so they cannot drift apart
unnoticed."""

from __future__ import annotations

import pytest

from amp_local import evm_abi
from dbt.adapters.amp.evm_signatures import EventSignatureError, parse_event_signature

# accepted by both, with the same names, `indexed` flags and canonical types
VALID = [
    "Transfer(address indexed from, address indexed to, uint256 value)",
    "event Transfer(address indexed from, address indexed to, uint256 value)",
    "Transfer(address indexed from, address indexed to, uint256 indexed tokenId)",
    "Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out, "
    "uint amount1Out, address indexed to)",
    "Sync(uint112 reserve0, uint112 reserve1)",
    "Meta(address indexed sender, (uint8 a, bytes32[] b) meta, address indexed to)",
    "Nested(tuple(uint8 a, (bool, string)[2] inner)[] items)",
    "Bytes(bytes data, bytes32 hash, byte flag, string memo)",
    "Payable(address payable indexed who, int8 delta, int amount)",
    "Arrays(uint256[3][] grid, address[] indexed owners, bool[02] pair)",
    "Location(string memory note, bytes calldata blob)",
    "  Spaces ( uint256   value ,address  indexed  who )  ",
    "Empty()",
    "Callback(function callback)",
    "Names(uint256 $value, uint256 _x, uint256 indexedValue)",
    "Inner((uint8 indexed) weird)",  # inside a tuple `indexed` is just a component name
]

# rejected by both
INVALID = [
    ("Bad(uint7 x)", "unknown type 'uint7' (integer sizes are 8, 16, …, 256)"),
    ("Bad(uint264 x)", "unknown type 'uint264'"),
    ("Bad(uint08 x)", "unknown type 'uint08'"),
    ("Bad(bytes33 x)", "unknown type 'bytes33' (fixed bytes are bytes1 … bytes32)"),
    ("Bad(bytes0 x)", "unknown type 'bytes0'"),
    ("Bad(foo x)", "unknown type 'foo'"),
    ("Bad(uint256[0] x)", "'0' is not an array size"),
    ("Bad(uint256[x] y)", "'x' is not an array size"),
    ("Bad(uint256[ x)", "'x' is not an array size"),
    ("Bad(uint256[2 x)", "expected ']' but found 'x'"),
    ("Bad((uint8 a x)", "unexpected 'x' in a parameter"),
    ("Bad((uint8 a)", "it ends too early"),
    ("Bad(uint256 x,)", "a parameter is empty"),
    ("Bad(,uint256 x)", "a parameter is empty"),
    ("Bad(uint256 x y)", "unexpected 'y' in a parameter"),
    ("Bad(uint256 indexed indexed x)", "unexpected 'x' in a parameter"),  # named `indexed`
    ("Bad(uint256 x-y)", "unexpected character '-'"),
    ("Bad(tuple x)", "'tuple' must be followed by its components"),
    ("Bad(uint256 x))", "unexpected ')' after the parameter list"),
    ("Bad(uint256 x) extra", "Not an event signature"),
    ("Transfer", "Not an event signature"),
    ("(uint256 x)", "Not an event signature"),
    ("1Bad(uint256 x)", "Not an event signature"),
    ("event(uint256 x)", "Not an event signature"),
]

# Amp accepts these, the macros do not: they name columns after the parameters and select by topic0
ADAPTER_ONLY_REJECTS = [
    ("Transfer(address indexed, uint256)", "Event parameter without a name"),
    ("Transfer(address indexed from, uint256)", "'uint256'. Name every parameter"),
    ("Tuple((uint8 a, bool b) indexed)", "'(uint8 a, bool b) indexed'. Name every parameter"),
    ("Anon(uint256 x) anonymous", "Not an event signature"),
]


@pytest.mark.parametrize("signature", VALID)
def test_same_parameters_as_amp_local(signature):
    ours = parse_event_signature(signature)
    theirs = evm_abi.parse_event(signature.strip()).params
    assert [(p.name, p.indexed, p.canonical) for p in ours] == [
        (p.name, p.indexed, p.type.canonical()) for p in theirs
    ]


@pytest.mark.parametrize("signature, message", INVALID, ids=[s for s, _ in INVALID])
def test_rejected_by_both(signature, message):
    with pytest.raises(evm_abi.AbiError):
        evm_abi.parse_event(signature)
    with pytest.raises(EventSignatureError) as raised:
        parse_event_signature(signature)
    assert message in str(raised.value)
    assert signature.strip() in str(raised.value)  # the message quotes the signature


@pytest.mark.parametrize("signature, message", ADAPTER_ONLY_REJECTS)
def test_rejected_by_the_macros_only(signature, message):
    evm_abi.parse_event(signature)  # Amp's parser takes it
    with pytest.raises(EventSignatureError) as raised:
        parse_event_signature(signature)
    assert message in str(raised.value)


def test_written_types_and_messages():
    """`type` is the parameter's type as written (tuples whole, whitespace collapsed), what the
    Jinja parser returned; the messages are the ones the macros have always raised."""
    params = parse_event_signature(
        "Swap(address indexed sender, uint  amount0In, (uint8 a,  bytes32[] b) meta, "
        "address payable indexed to)"
    )
    assert [p.as_dict() for p in params] == [
        {"name": "sender", "type": "address", "canonical": "address", "indexed": True},
        {"name": "amount0In", "type": "uint", "canonical": "uint256", "indexed": False},
        {
            "name": "meta",
            "type": "(uint8 a, bytes32[] b)",
            "canonical": "(uint8,bytes32[])",
            "indexed": False,
        },
        {"name": "to", "type": "address payable", "canonical": "address", "indexed": True},
    ]
    with pytest.raises(EventSignatureError) as raised:
        parse_event_signature("Transfer(address indexed, uint256)")
    assert str(raised.value) == (
        "Event parameter without a name in 'Transfer(address indexed, uint256)': "
        "'address indexed'. Name every parameter, e.g. 'uint256 value'."
    )
    with pytest.raises(EventSignatureError) as raised:
        parse_event_signature("Transfer")
    assert str(raised.value) == (
        "Not an event signature: 'Transfer' (expected e.g. "
        "'Transfer(address indexed from, address indexed to, uint256 value)')"
    )
