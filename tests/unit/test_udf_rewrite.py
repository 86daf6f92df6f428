"""Golden tests of the SQL-text side of Amp's UDFs (amp_local.udf_rewrite) against DataFusion.

amp_local reads DataFusion's display text: variant names in output column names and messages, the
argument types in its coercion error, Arrow type names, its signature-error wording, and its
rendering of Python exceptions. These tests pin that text on the installed DataFusion, so an upgrade
that changes it fails here first, loudly, instead of changing what clients see.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from datafusion import SessionContext, udf

from amp_local.errors import DataFusionError, UdfError, carried_error
from amp_local.evm_values import arrow_type_display
from amp_local.udf_rewrite import (
    amp_function_name,
    clean_error_text,
    coerced_argument_types,
    find_calls,
    rename_calls,
    signature_error_arity,
    signature_error_coercion,
    signature_error_zero_arguments,
    split_type_list,
    unrewrite_text,
    variant_name,
)
from amp_local.udfs import arrow_type, rewrite_udf_calls


@pytest.fixture(scope="module")
def ctx() -> SessionContext:
    c = SessionContext()
    c.register_record_batches(
        "t",
        [[pa.record_batch({"a": pa.array([b"\x01" * 20], pa.binary(20)), "s": ["x"]})]],
    )
    return c


def datafusion_error(ctx: SessionContext, sql: str) -> str:
    with pytest.raises(Exception) as error:
        ctx.sql(sql).collect()
    return str(error.value)


# --------------------------------------------------------------------------------------------------
# Finding calls in SQL text
# --------------------------------------------------------------------------------------------------


def test_calls_are_found_by_token_not_by_text():
    sql = (
        "SELECT \"evm_topic\"('x'), EVM_Decode_Hex(a) -- shift_units(1, 2)\n"
        "FROM t /* evm_decode_log( */ WHERE s <> 'evm_topic(' AND \"ns/d@1.0.0\".evm_topic('y') "
        "AND shift_units(shift_units('1', 1), -1) = '1'"
    )
    calls = find_calls(sql)
    assert [(c.name, c.arity) for c in calls] == [
        ("evm_topic", 1),
        ("evm_decode_hex", 1),
        ("shift_units", 2),
        ("shift_units", 2),
    ]
    outer, inner = calls[2:]
    assert sql[outer.name_start : outer.end] == "shift_units(shift_units('1', 1), -1)"
    assert sql[inner.arguments[0].start : inner.arguments[0].end] == "'1'"


@pytest.mark.parametrize(
    ("argument", "constant"),
    [
        ("'0x00'", True),
        ("NULL", True),
        ("arrow_cast(1, 'UInt64')", True),
        ("CAST(1.5 AS DECIMAL(10, 2))", True),
        ("named_struct('a', [1, 2])", True),
        ("evm_encode_hex('0x00')", True),
        ("address", False),
        ('"t"."a"', False),
        ("ev['value']", False),
        ("(SELECT max(x) FROM t)", False),
        ("block_num()", False),
    ],
)
def test_constant_arguments_are_those_without_columns(argument, constant):
    call = find_calls(f"SELECT shift_units({argument}, 1) FROM t")[0]
    assert call.arguments[0].is_constant is constant


def test_renaming_keeps_every_other_byte():
    sql = "SELECT Shift_Units( shift_units('1', 2) ,3) AS v -- shift_units(\n FROM t"
    outer, inner = find_calls(sql)
    renamed = rename_calls(sql, [(outer, "f__x"), (inner, "g__y")])
    assert renamed == "SELECT f__x( g__y('1', 2) ,3) AS v -- shift_units(\n FROM t"


# --------------------------------------------------------------------------------------------------
# Variant names in DataFusion's display text
# --------------------------------------------------------------------------------------------------


def test_variant_names_and_their_display_in_datafusion(ctx):
    name = variant_name("evm_decode_hex", "key")
    assert name == "evm_decode_hex__a62f2225bf70bfac"
    assert amp_function_name(name) == "evm_decode_hex"
    ctx.register_udf(
        udf(
            lambda a: pa.array(["0x"] * len(a)),
            [pa.binary(20)],
            pa.string(),
            "immutable",
            name=name,
        )
    )
    frame = ctx.sql(f"SELECT {name}(a), {name}(t.a) AS x FROM t")
    assert [unrewrite_text(n) for n in frame.schema().names] == ["evm_decode_hex(t.a)", "x"]
    message = datafusion_error(ctx, f"SELECT {name}(s) FROM t")
    assert name in message and "evm_decode_hex__" not in unrewrite_text(message)


def test_rewritten_sql_has_amp_names_in_output_columns(ctx):
    rewritten = rewrite_udf_calls(
        ctx, "SELECT evm_decode_hex(a), shift_units(s, -1) FROM t", plan=ctx.sql
    )
    names = ctx.sql(rewritten.sql).schema().names
    assert [unrewrite_text(n) for n in names] == [
        "evm_decode_hex(t.a)",
        "shift_units(t.s,Int64(-1))",
    ]


# --------------------------------------------------------------------------------------------------
# Argument types from DataFusion's coercion error
# --------------------------------------------------------------------------------------------------

PROBE = pa.struct([("probe", pa.null())])
TYPED_ARGUMENTS = [
    ("'x'", pa.string()),
    ("1", pa.int64()),
    ("1.5", pa.float64()),
    ("NULL", pa.null()),
    ("X'00'", pa.binary()),
    ("a", pa.binary(20)),
    ("CAST(1.5 AS DECIMAL(10, 2))", pa.decimal128(10, 2)),
    ("arrow_cast('1', 'Decimal256(76, 0)')", pa.decimal256(76, 0)),
    ("arrow_cast([1, 2], 'FixedSizeList(2, UInt64)')", pa.list_(pa.uint64(), 2)),
    ("[1, 2]", pa.list_(pa.int64())),
    ("arrow_cast('x', 'Utf8View')", pa.string_view()),
    ("named_struct('a', 1, 'b', 'x')", pa.struct([("a", pa.int64()), ("b", pa.string())])),
    (
        "[named_struct('k', arrow_cast(1, 'UInt8'))]",
        pa.list_(pa.struct([("k", pa.uint8())])),
    ),
]


@pytest.mark.parametrize(("argument", "expected"), TYPED_ARGUMENTS)
def test_coercion_error_names_argument_types(ctx, argument, expected):
    probe = variant_name("shift_units", "golden-probe")
    ctx.register_udf(udf(lambda *a: a[0], [PROBE, PROBE], pa.int64(), "immutable", name=probe))
    message = datafusion_error(ctx, f"SELECT {probe}({argument}, 'x') FROM t")
    name, types = coerced_argument_types(message)
    assert name == probe and len(types) == 2
    assert arrow_type(types[0]) == expected
    assert types[1] == "Utf8"


def test_split_type_list_keeps_nested_commas_together():
    assert split_type_list('Struct("a, b": Int64, "c": Utf8), Decimal128(10, 2), Utf8') == [
        'Struct("a, b": Int64, "c": Utf8)',
        "Decimal128(10, 2)",
        "Utf8",
    ]


@pytest.mark.parametrize("typ", [t for _, t in TYPED_ARGUMENTS if t != pa.null()] + [pa.null()])
def test_arrow_type_display_is_datafusions(ctx, typ):
    literal = arrow_type_display(typ).replace("'", "''")
    (row,) = ctx.sql(f"SELECT arrow_typeof(arrow_cast(NULL, '{literal}')) AS t").to_pylist()
    assert row["t"] == arrow_type_display(typ)


# --------------------------------------------------------------------------------------------------
# DataFusion's signature errors, written by amp_local where a Python UDF cannot declare them
# --------------------------------------------------------------------------------------------------


def test_signature_error_wording_is_datafusions(ctx):
    digest = datafusion_error(ctx, "SELECT digest('a')")
    assert digest == "Error during planning: " + signature_error_arity(
        "digest", 2, ["Utf8"], ["String, String", "Binary, String"]
    )
    nanvl = datafusion_error(ctx, "SELECT nanvl('a', 'b')")
    signature = (
        "OneOf(Coercible(Float64, Float64), Coercible(Float64, Float64), Exact(Float16, Float16), "
        "Exact(Float32, Float32), Exact(Float64, Float64))"
    )
    candidates = ["Float64, Float64"] * 2 + [
        f"{t}, {t}" for t in ("Float16", "Float32", "Float64")
    ]
    assert nanvl == "Error during planning: " + signature_error_coercion(
        "nanvl", ["Utf8", "Utf8"], signature, candidates
    )
    zero = datafusion_error(ctx, "SELECT arrow_typeof()")
    assert zero == "Error during planning: " + signature_error_zero_arguments(
        "arrow_typeof", ["Any"]
    )


# --------------------------------------------------------------------------------------------------
# Python exceptions in DataFusion's text
# --------------------------------------------------------------------------------------------------


def test_python_exceptions_in_datafusion_text(ctx):
    def boom(values):
        raise ValueError('evm_decode_hex: it\'s "quoted"')

    def refuse(values):
        raise UdfError(DataFusionError.plan("shift_units: refused").context("shift_units"))

    ctx.register_udf(udf(boom, [pa.string()], pa.string(), "immutable", name="boom"))
    ctx.register_udf(udf(refuse, [pa.string()], pa.string(), "immutable", name="refuse"))
    message = datafusion_error(ctx, "SELECT boom(s) FROM t")
    assert message.startswith("DataFusion error: ")
    assert clean_error_text(message).endswith('evm_decode_hex: it\'s "quoted"')
    assert "PyErr" not in clean_error_text(message)
    carried = carried_error(datafusion_error(ctx, "SELECT refuse(s) FROM t"))
    assert carried.chain() == [
        "shift_units\ncaused by\nError during planning: shift_units: refused",
        "Error during planning: shift_units: refused",
    ]
