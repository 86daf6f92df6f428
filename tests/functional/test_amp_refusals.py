"""Amp's refusals, one per class, as (SQL → gRPC code, error_code, message) over Flight and JSON Lines.

Every message is the one Amp's server renders (`error_with_causes`: `<error> | Caused by: <source> ->
…`) from the Rust source it is quoted from (edgeandnode/amp; paths in the comments are under
`crates/core/common/src/` unless they name `flight.rs`, the server). UDF cases come in literal and
column forms where Amp treats them differently: DataFusion hands a literal to a UDF as a `Scalar`.
`plan` refusals happen at GetFlightInfo; `get` ones at DoGet (Amp computes a literal-only expression
at execution too: DataFusion keeps an expression unfolded when computing it while planning fails).
A message ending in `…` is compared up to there: the rest is a parser's own wording (alloy's in Amp).
"""

from __future__ import annotations

from typing import NamedTuple

import httpx
import pyarrow as pa
import pytest

from tests.functional.flight_client import flight_status, statement_descriptor

HTTP_STATUS = {"INVALID_ARGUMENT": 400, "INTERNAL": 500, "NOT_FOUND": 404}


class Refusal(NamedTuple):
    name: str
    sql: str
    phase: str  # "plan": GetFlightInfo fails; "get": DoGet fails
    code: str  # gRPC status code
    error_code: str  # Amp's error_code (JSON Lines body)
    message: str


def planning(error: str) -> str:
    """`query_context::Error::PlanningError` ("planning error: {0}", source: the error)."""
    return f"planning error: {error} | Caused by: {error}"


def invalid_plan(error: str) -> str:
    """`query_context::Error::InvalidPlan` ("invalid plan", source: the error)."""
    return f"invalid plan | Caused by: {error}"


def execution(error: str) -> str:
    """flight.rs `Error::ExecutionError` ("query execution error", source: the error)."""
    return f"query execution error | Caused by: {error}"


ALIAS = (
    "Error during planning: expression contains a column alias starting with '_': '{}'. "
    "Underscore-prefixed names are reserved. Please rename your column"
)

REFUSALS = [
    # plan_visitors.rs forbid_underscore_prefixed_aliases; query_context.rs InvalidPlan
    Refusal(
        "alias",
        "SELECT 1 AS _hello",
        "plan",
        "INVALID_ARGUMENT",
        "INVALID_PLAN",
        invalid_plan(ALIAS.format("_hello")),
    ),
    Refusal(
        "alias_scalar_subquery",
        "SELECT (SELECT 1 AS _inner) AS x",
        "plan",
        "INVALID_ARGUMENT",
        "INVALID_PLAN",
        invalid_plan(ALIAS.format("_inner")),
    ),
    Refusal(
        "alias_derived_table",
        'SELECT * FROM (SELECT block_num AS _b FROM "_/eth_rpc@0.0.0".blocks) t',
        "plan",
        "INVALID_ARGUMENT",
        "INVALID_PLAN",
        invalid_plan(ALIAS.format("_b")),
    ),
    # plan_visitors.rs forbid_underscore_prefixed_aliases
    Refusal(
        "block_num_over_join",
        'SELECT b._block_num FROM "_/eth_rpc@0.0.0".blocks b JOIN "_/eth_rpc@0.0.0".logs l ON l.block_num = b.block_num',
        "plan",
        "INVALID_ARGUMENT",
        "INVALID_PLAN",
        invalid_plan(
            "Error during planning: selecting `_block_num` from a multi-table context (e.g. a join) is ambiguous. Use the `block_num()` function instead to get the correct value"
        ),
    ),
    # PROTOCOL §2.4
    Refusal(
        "block_num_batch",
        'SELECT block_num() FROM "_/eth_rpc@0.0.0".blocks',
        "plan",
        "INVALID_ARGUMENT",
        "INVALID_PLAN",
        invalid_plan("Error during planning: block_num() is only supported in streaming queries"),
    ),
    # sql.rs ParseSqlError::InvalidSyntax; query_context.rs SqlParseError
    Refusal(
        "syntax",
        "SELEC 1",
        "plan",
        "INVALID_ARGUMENT",
        "SQL_PARSE_ERROR",
        'SQL parse error | Caused by: Invalid SQL syntax -> SQL error: ParserError("Expected: an SQL statement, found: SELEC at Line: 1, Column: 1")',
    ),
    # sql.rs ParseSqlError::MultipleStatements
    Refusal(
        "two_statements",
        "SELECT 1; SELECT 2",
        "plan",
        "INVALID_ARGUMENT",
        "SQL_PARSE_ERROR",
        "SQL parse error | Caused by: Expected a single SQL statement, found 2",
    ),
    # query_context.rs read_only_check (DataFusion SQLOptions::verify_plan)
    Refusal(
        "ddl",
        "CREATE TABLE x AS SELECT 1",
        "plan",
        "INVALID_ARGUMENT",
        "INVALID_PLAN",
        invalid_plan("Error during planning: DDL not supported: CreateMemoryTable"),
    ),
    # sql.rs ResolveTableReferencesError::CatalogQualifiedTable; flight.rs TableReferenceResolution
    Refusal(
        "catalog_qualified",
        'SELECT * FROM amp."_/eth_rpc@0.0.0".logs',
        "plan",
        "INVALID_ARGUMENT",
        "TABLE_REFERENCE_RESOLUTION",
        "Failed to resolve table references from SQL | Caused by: Catalog-qualified table references are not supported: amp._/eth_rpc@0.0.0.logs",
    ),
    # DataFusion 'table not found' plan error; query_context.rs PlanningError
    Refusal(
        "unknown_table",
        'SELECT * FROM "_/eth_rpc@0.0.0".nope',
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning("Error during planning: table 'amp._/eth_rpc@0.0.0.nope' not found"),
    ),
    Refusal(
        "unknown_column",
        "SELECT nope FROM (SELECT 1 AS a) t",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning("Schema error: No field named nope.\nValid fields are t.a."),
    ),
    Refusal(
        "empty",
        "   ",
        "plan",
        "INVALID_ARGUMENT",
        "INVALID_QUERY",
        "invalid query: query is empty",
    ),
    # DataFusion signature check of evm_topic.rs Signature::exact
    Refusal(
        "topic_arity",
        "SELECT evm_topic('a', 'b')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: Failed to coerce arguments to satisfy a call to 'evm_topic' function: coercion from Utf8, Utf8 to the signature Exact(Utf8) failed. No function matches the given name and argument types 'evm_topic(Utf8, Utf8)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tevm_topic(Utf8)"
        ),
    ),
    # DataFusion signature check of shift_units.rs Signature::one_of([Any(2)])
    Refusal(
        "shift_units_arity",
        "SELECT shift_units('1')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: Internal error: Function 'shift_units' failed to match any signature, errors: Error during planning: Function 'shift_units' expects 2 arguments but received 1.\nThis issue was likely caused by a bug in DataFusion's code. Please help us to resolve this by filing a bug report in our issue tracker: https://github.com/apache/datafusion/issues. No function matches the given name and argument types 'shift_units(Utf8)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tshift_units(Any, Any)"
        ),
    ),
    # evm_decode_log.rs return_field_from_args
    Refusal(
        "decode_log_signature_column",
        'SELECT evm_decode_log(topic1, topic2, topic3, data, evm_decode_hex(address)) FROM "_/eth_rpc@0.0.0".logs',
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: evm_decode_log: expected a string literal for the signature"
        ),
    ),
    # evm_decode_log.rs + evm_common.rs Event::from_str (alloy's parser words the rest differently)
    Refusal(
        "decode_log_bad_signature",
        "SELECT evm_decode_log(topic1, topic2, topic3, data, 'Transfer(address from') FROM \"_/eth_rpc@0.0.0\".logs",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        "planning error: evm_decode_log\ncaused by\nError during planning: parse event signature: …",
    ),
    # evm_common.rs Event::new
    Refusal(
        "decode_log_4_indexed",
        "SELECT evm_decode_log(topic1, topic2, topic3, data, 'E(uint8 indexed a, uint8 indexed b, uint8 indexed c, uint8 indexed d)') FROM \"_/eth_rpc@0.0.0\".logs",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        "planning error: evm_decode_log\ncaused by\nError during planning: event can only have 3 indexed parameters but has 4 | Caused by: evm_decode_log\ncaused by\nError during planning: event can only have 3 indexed parameters but has 4 -> Error during planning: event can only have 3 indexed parameters but has 4",
    ),
    # evm_function_params.rs FunctionCall::new
    Refusal(
        "decode_params_unnamed",
        "SELECT evm_decode_params(input, 'transfer(address,uint256)') FROM \"_/eth_rpc@0.0.0\".transactions",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        "planning error: evm_decode_params\ncaused by\nError during planning: function transfer has unnamed input parameter | Caused by: evm_decode_params\ncaused by\nError during planning: function transfer has unnamed input parameter -> Error during planning: function transfer has unnamed input parameter",
    ),
    # evm_decode_type.rs return_field_from_args
    Refusal(
        "decode_type_bad_type",
        "SELECT evm_decode_type(X'00', 'uint7')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        "planning error: Error during planning: failed to parse Solidity type: …",
    ),
    # evm_decode_type.rs return_field_from_args
    Refusal(
        "decode_type_type_column",
        'SELECT evm_decode_type(data, evm_decode_hex(address)) FROM "_/eth_rpc@0.0.0".logs',
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: evm_decode_type: expected scalar argument for the Solidity type"
        ),
    ),
    # evm_encode_hex.rs return_field_from_args (const-hex FromHexError)
    Refusal(
        "encode_hex_invalid",
        "SELECT evm_encode_hex('zz')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: evm_encode_hex: invalid hex string: Invalid character 'z' at position 0"
        ),
    ),
    Refusal(
        "encode_hex_empty",
        "SELECT evm_encode_hex('')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning("Error during planning: evm_encode_hex: expected 20 or 32 bytes, got 0"),
    ),
    Refusal(
        "encode_hex_short",
        "SELECT evm_encode_hex('0x1234')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning("Error during planning: evm_encode_hex: expected 20 or 32 bytes, got 2"),
    ),
    Refusal(
        "encode_hex_odd",
        "SELECT evm_encode_hex('abc')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: evm_encode_hex: invalid hex string: Odd number of digits"
        ),
    ),
    # DataFusion signature check of evm_decode_hex.rs OneOf(Exact(FSB20), Exact(FSB32))
    Refusal(
        "decode_hex_binary_column",
        'SELECT evm_decode_hex(data) FROM "_/eth_rpc@0.0.0".logs',
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: Failed to coerce arguments to satisfy a call to 'evm_decode_hex' function: coercion from Binary to the signature OneOf(Exact(FixedSizeBinary(20)), Exact(FixedSizeBinary(32))) failed. No function matches the given name and argument types 'evm_decode_hex(Binary)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tevm_decode_hex(FixedSizeBinary(20))\n\tevm_decode_hex(FixedSizeBinary(32))"
        ),
    ),
    Refusal(
        "decode_hex_binary_literal",
        "SELECT evm_decode_hex(X'0102')",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: Failed to coerce arguments to satisfy a call to 'evm_decode_hex' function: coercion from Binary to the signature OneOf(Exact(FixedSizeBinary(20)), Exact(FixedSizeBinary(32))) failed. No function matches the given name and argument types 'evm_decode_hex(Binary)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tevm_decode_hex(FixedSizeBinary(20))\n\tevm_decode_hex(FixedSizeBinary(32))"
        ),
    ),
    # shift_units.rs return_field_from_args
    Refusal(
        "shift_units_null_value",
        "SELECT shift_units(NULL, 18)",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: shift_units: expected numeric type or Utf8 for first argument, got Null"
        ),
    ),
    Refusal(
        "shift_units_null_units",
        "SELECT shift_units('1', NULL)",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: shift_units: expected numeric type for second argument, got Null"
        ),
    ),
    Refusal(
        "shift_units_boolean_column",
        'SELECT shift_units(status, 18) FROM "_/eth_rpc@0.0.0".transactions',
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: shift_units: expected numeric type or Utf8 for first argument, got Boolean"
        ),
    ),
    Refusal(
        "shift_units_float_units",
        "SELECT shift_units('1', 1.5)",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: shift_units: expected numeric type for second argument, got Float64"
        ),
    ),
    # plan_visitors.rs forbid_duplicate_field_names; query_context.rs execute_plan
    Refusal(
        "duplicate_fields",
        'SELECT a.block_num, b.block_num FROM "_/eth_rpc@0.0.0".blocks a, "_/eth_firehose@0.0.0".blocks b',
        "get",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: Duplicate field names detected in plan schema: [a.block_num and b.block_num]. Please alias your columns to be unique."
        ),
    ),
    # shift_units.rs scalar_to_bigdecimal / array_to_bigdecimal / parse_value
    Refusal(
        "shift_units_bad_value_literal",
        "SELECT shift_units('abc', 18)",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: shift_units: failed to parse value: invalid digit found in string"
        ),
    ),
    Refusal(
        "shift_units_bad_value_column",
        'SELECT shift_units(evm_decode_hex(address), 18) FROM "_/eth_rpc@0.0.0".logs',
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: shift_units: failed to convert String to BigDecimal: invalid digit found in string"
        ),
    ),
    Refusal(
        "shift_units_units_range_literal",
        "SELECT shift_units('1', 33)",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: shift_units: units must be between -32 and 32 (got 33)"),
    ),
    Refusal(
        "shift_units_units_range_column",
        'SELECT shift_units(gas_used, 33) FROM "_/eth_rpc@0.0.0".blocks',
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: shift_units: units must be between -32 and 32 (got 33)"),
    ),
    Refusal(
        "shift_units_bad_units",
        "SELECT shift_units('1', '1.5')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: shift_units: failed to parse integer: invalid digit found in string"
        ),
    ),
    Refusal(
        "shift_units_typed_null_literal",
        "SELECT shift_units(CAST(NULL AS VARCHAR), 18)",
        "plan",
        "INTERNAL",
        "PLANNING_ERROR",
        planning(
            "Error during planning: shift_units: expected numeric type or Utf8 for first argument, got Utf8View"
        ),
    ),
    # evm_decode_hex.rs invoke_with_args (a literal is a Scalar)
    Refusal(
        "decode_hex_literal",
        "SELECT evm_decode_hex(NULL)",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: evm_decode_hex: expected Array, but got FixedSizeBinary(20)"
        ),
    ),
    # evm_encode_hex.rs invoke_with_args
    Refusal(
        "encode_hex_null",
        "SELECT evm_encode_hex(NULL)",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: evm_encode_hex: input cannot be null"),
    ),
    Refusal(
        "encode_hex_column",
        'SELECT evm_encode_hex(evm_decode_hex(address)) FROM "_/eth_rpc@0.0.0".logs',
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: evm_encode_hex: expected scalar argument but got Utf8"),
    ),
    # evm_common.rs scalar_to_sol_value / array_to_sol_value / int_to_sol_value
    Refusal(
        "encode_type_decimal_scale_literal",
        "SELECT evm_encode_type(CAST(1.5 AS DECIMAL(10, 2)), 'uint256')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: Unsupported type Decimal128(10, 2) for Solidity type uint256"
        ),
    ),
    Refusal(
        "encode_type_decimal_scale_column",
        "SELECT evm_encode_type(CAST(gas_used AS DECIMAL(20, 2)), 'uint256') FROM \"_/eth_rpc@0.0.0\".blocks",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: Unsupported type Decimal128(20, 2) for Solidity type uint256"
        ),
    ),
    Refusal(
        "encode_type_int_to_uint",
        "SELECT evm_encode_type(42, 'uint256')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: expected int type, got uint256"),
    ),
    Refusal(
        "encode_type_uint_column_to_int",
        "SELECT evm_encode_type(log_index, 'int8') FROM \"_/eth_rpc@0.0.0\".logs",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: expected uint type, got int8"),
    ),
    Refusal(
        "encode_type_string_to_uint",
        "SELECT evm_encode_type('42', 'uint256')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: cannot convert string to solidity type uint256"),
    ),
    # evm_encode_type.rs invoke_with_args
    Refusal(
        "encode_type_arity",
        "SELECT evm_encode_type(arrow_cast(1, 'UInt64'))",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: evm_encode_type: expected at 2 arguments, but got 1"),
    ),
    Refusal(
        "encode_type_type_column",
        'SELECT evm_encode_type(gas_used, evm_decode_hex(miner)) FROM "_/eth_rpc@0.0.0".blocks',
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: evm_encode_type: expected scalar argument for the Solidity type but got Utf8"
        ),
    ),
    Refusal(
        "encode_type_fixed_array_size",
        "SELECT evm_encode_type(arrow_cast([1, 2, 3], 'FixedSizeList(3, UInt64)'), 'uint256[2]')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: cannot convert fixed size list of size 3 to solidity type uint256[2]"
        ),
    ),
    Refusal(
        "encode_type_null_literal",
        "SELECT evm_encode_type(NULL, 'uint256')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: Unsupported type Null for Solidity type uint256"),
    ),
    # evm_function_params.rs EvmEncodeParams::invoke_with_args
    Refusal(
        "encode_params_count",
        "SELECT evm_encode_params(arrow_cast(1, 'UInt64'), 'transfer(address to, uint256 amount)')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: evm_encode_params: expected 2 arguments for the function signature but got 1"
        ),
    ),
    # evm_topic.rs invoke_with_args (no planning-time check in Amp)
    Refusal(
        "topic_bad_signature",
        "SELECT evm_topic('Transfer(address from')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("evm_topic\ncaused by\nError during planning: parse event signature: …"),
    ),
    Refusal(
        "topic_anonymous",
        "SELECT evm_topic('E(uint8 a) anonymous')",
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution("Error during planning: anonymous event E has no topic0"),
    ),
    Refusal(
        "topic_column",
        'SELECT evm_topic(evm_decode_hex(address)) FROM "_/eth_rpc@0.0.0".logs',
        "get",
        "INTERNAL",
        "EXECUTION_ERROR",
        execution(
            "Error during planning: evm_topic: expected scalar argument for the signature but got Utf8"
        ),
    ),
    # flight.rs execute_plan InvalidQuery
    Refusal(
        "streaming_non_incremental",
        'SELECT count(*) AS n FROM "_/eth_rpc@0.0.0".blocks SETTINGS stream = true',
        "get",
        "INVALID_ARGUMENT",
        "INVALID_QUERY",
        "invalid query: non-incremental queries are not supported for streaming, query contains non-incremental operation: Aggregate",
    ),
]


def matches(message: str, expected: str) -> bool:
    if expected.endswith("…"):
        return message.startswith(expected[:-1])
    return message == expected


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.name for r in REFUSALS])
def test_flight_refusal(client, refusal):
    descriptor = statement_descriptor(refusal.sql)
    with pytest.raises(pa.ArrowException) as error:
        info = client.get_flight_info(descriptor)
        assert refusal.phase == "get", "GetFlightInfo accepted a query Amp refuses at planning"
        client.do_get(info.endpoints[0].ticket).read_all()
    status = flight_status(error.value)
    assert status.code == refusal.code
    assert matches(status.message, refusal.message), status.message


@pytest.fixture(scope="module")
def http(amp_server):
    with httpx.Client(base_url=amp_server.jsonl_url, timeout=60) as client:
        yield client


@pytest.mark.parametrize(
    "refusal",
    [r for r in REFUSALS if "SETTINGS stream" not in r.sql and r.sql.strip()],
    ids=lambda r: r.name,
)
def test_jsonl_refusal(http, refusal):
    response = http.post("/", content=refusal.sql)
    assert response.status_code == HTTP_STATUS[refusal.code]
    body = response.json()
    assert body["error_code"] == refusal.error_code
    assert matches(body["error_message"], refusal.message), body["error_message"]
