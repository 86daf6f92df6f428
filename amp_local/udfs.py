"""Amp's built-in EVM UDFs on DataFusion's Python API (PROTOCOL §3): which variant each call becomes,
and the refusals Amp makes while planning.

`rewrite_udf_calls(ctx, sql, plan=…)` registers, on `ctx`, one variant per call of an Amp function
(see `udf_rewrite` for why) and returns the SQL calling them. It refuses what Amp refuses at planning:

* DataFusion's signature checks. Amp's `evm_topic`, `evm_decode_log`, `evm_decode_params`,
  `evm_decode_type` and `evm_encode_hex` have exact argument types; their variants declare the same
  ones, so DataFusion coerces and refuses exactly as for Amp. `evm_decode_hex` (FixedSizeBinary(20)
  or (32)) and `shift_units` (any two arguments) have signatures a Python UDF cannot declare; their
  refusals are written in DataFusion's words (`udf_rewrite.signature_error_*`).
* Amp's `return_field_from_args` checks: literal signatures and Solidity types (`evm_decode_log:
  expected a string literal for the signature`, `failed to parse Solidity type: …`), `evm_encode_hex`
  literals (`evm_encode_hex: invalid hex string: …`), `shift_units` argument types (`shift_units:
  expected numeric type or Utf8 for first argument, got Null`).
* `block_num()` outside streaming queries.

`evm_encode_type`, `evm_encode_params`, `evm_decode_hex` and `shift_units` depend on their argument
types: those are read from DataFusion's coercion error for a probe (`udf_rewrite`), one call at a time
(innermost first, as DataFusion plans arguments first). Everything Amp checks while computing rows is
in `udf_runtime`. Sources: `crates/core/common/src/udfs/*.rs` in edgeandnode/amp.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
from datafusion import SessionContext, udf

from amp_local import evm_abi, udf_runtime
from amp_local.errors import AmpError, DataFusionError, invalid_plan, planning_error
from amp_local.evm_abi import AbiError
from amp_local.evm_values import arrow_type_display
from amp_local.udf_rewrite import (
    Argument,
    Call,
    any_amp_call,
    coerced_argument_types,
    find_calls,
    rename_calls,
    signature_error_arity,
    signature_error_coercion,
    signature_error_zero_arguments,
    variant_name,
)
from amp_local.udf_runtime import FSB32

_LOCK = threading.RLock()
_REGISTERED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # ctx -> variant names
_UDFS: dict[str, object] = {}  # variant name -> datafusion ScalarUDF (context independent)
# the argument type of a type probe: nothing but NULL coerces to it (string literals do coerce
# to intervals, so an interval would not do)
_PROBE_TYPE = pa.struct([("amp_local_type_probe", pa.null())])
_TYPE_CONTEXT = SessionContext()
_TYPES: dict[str, pa.DataType] = {}


@dataclass(frozen=True)
class Variant:
    """One registered implementation of an Amp function, for one call's argument types."""

    name: str
    inputs: tuple[pa.DataType, ...]
    returns: pa.Field
    build: Callable[[], Callable]

    def scalar_udf(self) -> object:
        impl = self.build()
        return udf(impl, list(self.inputs), self.returns, "immutable", name=self.name)


@dataclass(frozen=True)
class Rewritten:
    """SQL with Amp's function calls renamed to variants, and those variants."""

    sql: str
    variants: tuple[Variant, ...] = ()


def install(ctx: SessionContext, variants: Sequence[Variant]) -> None:
    """Register `variants` on `ctx` (idempotent, thread safe)."""
    with _LOCK:
        names = _REGISTERED.get(ctx)
        if names is None:
            names = _REGISTERED[ctx] = set()
        for variant in variants:
            if variant.name in names:
                continue
            scalar_udf = _UDFS.get(variant.name)
            if scalar_udf is None:
                scalar_udf = _UDFS[variant.name] = variant.scalar_udf()
            ctx.register_udf(scalar_udf)
            names.add(variant.name)


def rewrite_udf_calls(
    ctx: SessionContext,
    sql: str,
    *,
    plan: Callable[[str], object],
    block_num_expr: str | None = None,
) -> Rewritten:
    """Register on `ctx` the variants `sql` needs and return it rewritten to call them.

    `plan(sql)` plans SQL in `ctx` into a DataFrame (raising DataFusion's exception); it is used
    to learn argument types. `block_num_expr` replaces `block_num()` (streaming queries); without it `block_num()` is
    refused as in a batch query. Raises `AmpError` for what Amp refuses at planning."""
    if not any_amp_call(sql):
        return Rewritten(sql)
    try:
        calls = find_calls(sql)
    except Exception:  # not tokenizable: DataFusion's parser reports it
        return Rewritten(sql)
    replacements: list[tuple[Call, str]] = []
    resolved: dict[int, Variant] = {}
    typed: list[int] = []
    for index, call in enumerate(calls):
        if call.name == "block_num":
            replacements.append((call, _block_num(call, block_num_expr)))
        elif call.name in _TYPED and call.arity:
            typed.append(index)
        else:
            resolved[index] = _PLANNERS[call.name](call, ())
    if typed:
        _resolve_types(ctx, sql, calls, typed, resolved, replacements, plan)
    renamed = replacements + [(calls[i], v.name) for i, v in resolved.items()]
    variants = tuple(resolved.values())
    install(ctx, variants)
    return Rewritten(rename_calls(sql, renamed), variants)


def _block_num(call: Call, block_num_expr: str | None) -> str:
    if block_num_expr is None:
        raise invalid_plan(
            DataFusionError.plan("block_num() is only supported in streaming queries")
        )
    if call.arity:
        raise planning_error(
            DataFusionError.plan(f"block_num: expected 0 arguments, but got {call.arity}")
        )
    return f"({block_num_expr})"


def _resolve_types(
    ctx: SessionContext,
    sql: str,
    calls: list[Call],
    typed: list[int],
    resolved: dict[int, Variant],
    replacements: list[tuple[Call, str]],
    plan: Callable[[str], object],
) -> None:
    """Plan `sql` with the typed calls renamed to probes until DataFusion has named every probe's
    argument types in a coercion error; then plan those calls for their types."""
    probes = {
        index: Variant(
            variant_name(calls[index].name, f"probe:{index}:{calls[index].arity}"),
            (_PROBE_TYPE,) * calls[index].arity,
            pa.field("probe", _PROBE_RETURNS[calls[index].name]),
            lambda: _never_called,
        )
        for index in typed
    }
    by_name = {probe.name: index for index, probe in probes.items()}
    pending = set(typed)
    while pending:
        current = {**resolved, **{i: probes[i] for i in pending}}
        install(ctx, list(current.values()))
        text = rename_calls(sql, replacements + [(calls[i], v.name) for i, v in current.items()])
        try:
            # DataFusion checks the arguments of calls outside the SELECT list (WHERE, GROUP BY,
            # …) only in its type-coercion pass, which runs before optimizing
            plan(text).optimized_logical_plan()
        except AmpError:
            raise
        except Exception as exc:
            found = coerced_argument_types(str(exc))
            if found is None or found[0] not in by_name:
                raise
        else:
            found = None
        if found is not None:
            index = by_name[found[0]]
            types = tuple(arrow_type(display) for display in found[1])
            resolved[index] = _PLANNERS[calls[index].name](calls[index], types)
            pending.discard(index)
            continue
        # planned with probes left: their arguments coerce to anything, i.e. are NULL literals
        for index in sorted(pending):
            resolved[index] = _PLANNERS[calls[index].name](
                calls[index], (pa.null(),) * calls[index].arity
            )
        pending.clear()


def _never_called(*_args):
    raise RuntimeError("a type probe is never executed")


def arrow_type(display: str) -> pa.DataType:
    """The Arrow type DataFusion displays as `display` (parsed by DataFusion's `arrow_cast`)."""
    with _LOCK:
        typ = _TYPES.get(display)
        if typ is None:
            literal = display.replace("'", "''")
            query = f"SELECT arrow_cast(NULL, '{literal}') AS v"
            typ = _TYPES[display] = _TYPE_CONTEXT.sql(query).schema().field("v").type
        return typ


# --------------------------------------------------------------------------------------------------
# Planning each function
# --------------------------------------------------------------------------------------------------

_UTF8 = pa.string()
_BINARY = pa.binary()


def _key(call: Call, *parts: object) -> str:
    constant = "".join("c" if a.is_constant else "a" for a in call.arguments)
    return "|".join([constant, *map(str, parts)])


def _arity_mismatch(call: Call, inputs: tuple[pa.DataType, ...]) -> Variant:
    """A variant with Amp's exact argument types for a call with the wrong number of arguments:
    DataFusion refuses the call with its coercion error, as for Amp's UDF."""
    name = variant_name(call.name, f"arity:{call.arity}")
    return Variant(name, inputs, pa.field(call.name, pa.null()), lambda: _never_called)


def _literal_type(argument: Argument) -> str:
    """The DataFusion type of a literal argument (`ScalarValue::data_type`)."""
    token = argument.tokens[0]
    if argument.is_null_literal:
        return "Null"
    if token.text.lower() in ("true", "false"):
        return "Boolean"
    if any(c in token.text for c in ".eE"):
        return "Float64"
    return "Int64"


def _literal_text(call: Call, index: int, missing: str, context: str | None) -> str:
    """The text of a literal signature/type argument; Amp's planning error otherwise: `missing`
    for a non-literal, `expected Utf8, got <type>` for another literal (with `context`)."""
    argument = call.arguments[index]
    if argument.string_literal is not None:
        return argument.string_literal
    if not argument.is_literal:
        raise planning_error(DataFusionError.plan(missing))
    error = DataFusionError.plan(f"expected Utf8, got {_literal_type(argument)}")
    raise planning_error(error.context(context) if context else error)


def _plan_evm_topic(call: Call, _types) -> Variant:
    constant = call.arity == 1 and call.arguments[0].is_constant
    return Variant(
        variant_name("evm_topic", _key(call)),
        (_UTF8,),
        pa.field("evm_topic", FSB32),
        lambda: udf_runtime.EvmTopic(constant),
    )


def _plan_decode_log(call: Call, _types) -> Variant:
    name = call.name
    inputs = (FSB32, FSB32, FSB32, _BINARY, _UTF8)
    if call.arity != 5:
        return _arity_mismatch(call, inputs)
    text = _literal_text(call, 4, f"{name}: expected a string literal for the signature", name)
    decoder = _decoder(lambda: udf_runtime.EventDecoder(udf_runtime.parse_event(text, name), name))
    return Variant(
        variant_name(name, _key(call, text)), inputs, decoder.return_field, lambda: decoder
    )


def _decoder(build: Callable[[], object]):
    """A decoder built at planning; Amp's refusals while building it are planning errors."""
    try:
        return build()
    except udf_runtime.UdfError as exc:
        raise planning_error(exc.error) from None
    except AbiError as exc:  # a type without an Arrow mapping (`function`)
        raise planning_error(DataFusionError.plan(str(exc))) from None


def _plan_decode_params(call: Call, _types) -> Variant:
    name = "evm_decode_params"
    inputs = (_BINARY, _UTF8)
    if call.arity != 2:
        return _arity_mismatch(call, inputs)
    text = _literal_text(call, 1, f"{name}: expected a string literal for the signature", name)
    function = _decoder(lambda: udf_runtime.parse_function(text, name))
    try:
        decoder = udf_runtime.ParamsDecoder(function, call.arguments[0].is_constant)
    except AbiError as exc:
        raise planning_error(DataFusionError.plan(str(exc)).context(name)) from None
    return Variant(
        variant_name(name, _key(call, text)), inputs, decoder.return_field, lambda: decoder
    )


def _plan_decode_type(call: Call, _types) -> Variant:
    name = "evm_decode_type"
    inputs = (_BINARY, _UTF8)
    if call.arity != 2:
        return _arity_mismatch(call, inputs)
    text = _literal_text(call, 1, f"{name}: expected scalar argument for the Solidity type", None)
    try:
        ty = evm_abi.parse_type(text)
    except AbiError as exc:
        raise planning_error(
            DataFusionError.plan(f"failed to parse Solidity type: {exc}")
        ) from None
    decoder = _decoder(lambda: udf_runtime.TypeDecoder(ty, call.arguments[0].is_constant))
    return Variant(
        variant_name(name, _key(call, text)), inputs, decoder.return_field, lambda: decoder
    )


def _type_key(types: Sequence[pa.DataType]) -> str:
    return ",".join(str(t) for t in types)


def _plan_encoder(call: Call, types: Sequence[pa.DataType]) -> Variant:
    """`evm_encode_type` / `evm_encode_params`: any number and types of arguments (Amp's
    `variadic_any`); everything is checked while computing."""
    if not call.arity:
        raise planning_error(
            DataFusionError.plan(signature_error_zero_arguments(call.name, ["Any, .., Any"]))
        )
    constant = [a.is_constant for a in call.arguments]
    implementation = (
        udf_runtime.TypeEncoder if call.name == "evm_encode_type" else udf_runtime.ParamsEncoder
    )
    return Variant(
        variant_name(call.name, _key(call, _type_key(types))),
        tuple(types),
        pa.field(call.name, _BINARY),
        lambda: implementation(constant),
    )


def _plan_encode_hex(call: Call, _types) -> Variant:
    if call.arity != 1:
        return _arity_mismatch(call, (_UTF8,))
    argument = call.arguments[0]
    width = 20  # Amp's default when the literal is not known at planning
    if argument.string_literal is not None:
        try:
            width = len(udf_runtime.encode_hex_checked(argument.string_literal))
        except ValueError as exc:
            raise planning_error(DataFusionError.plan(str(exc))) from None
    constant = argument.is_constant
    return Variant(
        variant_name("evm_encode_hex", _key(call, width)),
        (_UTF8,),
        pa.field("evm_encode_hex", pa.binary(width), nullable=False),
        lambda: udf_runtime.EncodeHex(constant, width),
    )


_DECODE_HEX_WIDTHS = {pa.binary(20): 20, pa.binary(32): 32, pa.null(): 20}


def _plan_decode_hex(call: Call, types: Sequence[pa.DataType]) -> Variant:
    width = _DECODE_HEX_WIDTHS.get(types[0]) if len(types) == 1 else None
    if width is None:
        candidates = ["FixedSizeBinary(20)", "FixedSizeBinary(32)"]
        signature = "OneOf(Exact(FixedSizeBinary(20)), Exact(FixedSizeBinary(32)))"
        message = signature_error_coercion("evm_decode_hex", types, signature, candidates)
        raise planning_error(DataFusionError.plan(message))
    constant = call.arguments[0].is_constant
    return Variant(
        variant_name("evm_decode_hex", _key(call, width)),
        (pa.binary(width),),
        pa.field("evm_decode_hex", _UTF8),
        lambda: udf_runtime.DecodeHex(constant),
    )


_SHIFT_VALUE_TYPES = (
    pa.types.is_integer,
    pa.types.is_float32,
    pa.types.is_float64,
    pa.types.is_decimal,
    lambda t: t == pa.string(),
)
_SHIFT_UNITS_TYPES = (pa.types.is_integer, lambda t: t == pa.string())


def _plan_shift_units(call: Call, types: Sequence[pa.DataType]) -> Variant:
    if call.arity != 2:
        message = signature_error_arity("shift_units", 2, types, ["Any, Any"])
        raise planning_error(DataFusionError.plan(message))
    value, units = types
    if not any(check(value) for check in _SHIFT_VALUE_TYPES):
        raise planning_error(
            DataFusionError.plan(
                "shift_units: expected numeric type or Utf8 for first argument, got "
                + arrow_type_display(value)
            )
        )
    if not any(check(units) for check in _SHIFT_UNITS_TYPES):
        raise planning_error(
            DataFusionError.plan(
                "shift_units: expected numeric type for second argument, got "
                + arrow_type_display(units)
            )
        )
    constant = [a.is_constant for a in call.arguments]
    return Variant(
        variant_name("shift_units", _key(call, _type_key(types))),
        tuple(types),
        pa.field("shift_units", _UTF8),
        lambda: udf_runtime.ShiftUnits(constant),
    )


_PLANNERS: dict[str, Callable[[Call, Sequence[pa.DataType]], Variant]] = {
    "evm_topic": _plan_evm_topic,
    "evm_decode_log": _plan_decode_log,
    "evm_decode": _plan_decode_log,
    "evm_decode_params": _plan_decode_params,
    "evm_decode_type": _plan_decode_type,
    "evm_encode_type": _plan_encoder,
    "evm_encode_params": _plan_encoder,
    "evm_encode_hex": _plan_encode_hex,
    "evm_decode_hex": _plan_decode_hex,
    "shift_units": _plan_shift_units,
}
# functions whose variant depends on the argument types, and what they return
_PROBE_RETURNS = {
    "evm_encode_type": _BINARY,
    "evm_encode_params": _BINARY,
    "evm_decode_hex": _UTF8,
    "shift_units": _UTF8,
}
_TYPED = frozenset(_PROBE_RETURNS)
