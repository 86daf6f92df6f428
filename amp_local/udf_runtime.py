"""What DataFusion calls for Amp's UDFs: the row computations and the refusals Amp makes while
computing (in its `invoke_with_args`), with Amp's messages.

Sources (edgeandnode/amp): `crates/core/common/src/udfs/evm_topic.rs`, `evm_decode_log.rs`,
`evm_function_params.rs` (decode/encode params), `evm_decode_type.rs`, `evm_encode_type.rs`,
`evm_encode_hex.rs`, `evm_common.rs`, and the `evm_decode_hex.rs` / `shift_units.rs` UDFs of
`crates/core/common/src/evm/udfs/`.

Amp's UDFs get a literal argument as a DataFusion `Scalar` and a column as an `Array`, and refuse some
of them differently (`evm_decode_hex` of a literal: `expected Array, but got FixedSizeBinary(20)`; a
NULL literal to `shift_units`: `value must be a non-null numeric type`, while NULL column values give
NULL). DataFusion's Python API expands literals to columns, so each implementation is built knowing
which of its arguments are constant (`udf_rewrite.Argument.is_constant`) and the literal text of those
that are literals. Every refusal raises `UdfError` carrying the DataFusion error Amp returns.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Sequence

import eth_abi
import numpy as np
import pyarrow as pa

from amp_local import evm_abi
from amp_local.errors import DataFusionError, UdfError
from amp_local.evm_abi import AbiError, SolType
from amp_local.evm_values import ConversionError, array_to_sol, arrow_type_display, scalar_to_sol

FSB32 = pa.binary(32)
_DECIMALS = decimal.Context(prec=250)


def fail(message: str, context: str | None = None) -> UdfError:
    """A UDF refusal: DataFusion `Plan(message)`, optionally `.context(<function name>)`."""
    error = DataFusionError.plan(message)
    return UdfError(error.context(context) if context else error)


def _first(values: pa.Array):
    """The value of a constant argument (DataFusion repeats it on every row)."""
    return values[0].as_py() if len(values) else None


def _repeat(value, n: int, typ: pa.DataType) -> pa.Array:
    return pa.array([value] * n, typ)


def struct_array(fields: list[pa.Field], cols: list[pa.Array], n: int, mask=None) -> pa.Array:
    """A struct column; `mask` marks NULL rows."""
    if not fields:
        rows = [{}] * n if mask is None else [None if m else {} for m in mask]
        return pa.array(rows, pa.struct([]))
    if mask is not None and not mask.any():
        mask = None
    return pa.StructArray.from_arrays(
        cols, fields=fields, mask=pa.array(mask, pa.bool_()) if mask is not None else None
    )


# --------------------------------------------------------------------------------------------------
# evm_topic
# --------------------------------------------------------------------------------------------------


def parse_event(text: str, name: str) -> evm_abi.Event:
    """`Event::try_from(&ScalarValue)` with `.context(name)`: an event signature with at most 3
    indexed parameters."""
    try:
        event = evm_abi.parse_event(text)
    except AbiError as exc:
        raise fail(f"parse event signature: {exc}", name) from None
    if len(event.indexed) > 3:
        raise fail(f"event can only have 3 indexed parameters but has {len(event.indexed)}", name)
    return event


class EvmTopic:
    """`evm_topic(signature)`: computed at run time only; a non-literal signature is refused."""

    def __init__(self, constant: bool) -> None:
        self.constant = constant
        self._topics: dict[str, bytes] = {}

    def __call__(self, signatures: pa.Array) -> pa.Array:
        if not self.constant:
            raise fail(
                "evm_topic: expected scalar argument for the signature but got "
                + arrow_type_display(signatures.type)
            )
        n = len(signatures)
        if n == 0:
            return pa.array([], FSB32)
        text = _first(signatures)
        if text is None:
            raise fail(f"expected Utf8, got {arrow_type_display(signatures.type)}", "evm_topic")
        topic = self._topics.get(text)
        if topic is None:
            event = parse_event(text, "evm_topic")
            if event.anonymous:
                raise fail(f"anonymous event {event.name} has no topic0")
            topic = self._topics[text] = event.topic0
        return _repeat(topic, n, FSB32)


# --------------------------------------------------------------------------------------------------
# Decoders (return types fixed by a literal signature at planning)
# --------------------------------------------------------------------------------------------------


class EventDecoder:
    """`evm_decode_log(topic1, topic2, topic3, data, '<event>')` (and deprecated `evm_decode`)."""

    def __init__(self, event: evm_abi.Event, name: str) -> None:
        self.indexed = event.indexed
        self.body = event.body
        self.body_types = [p.type for p in self.body]
        self.fields = [
            pa.field(p.name, evm_abi.arrow_type_indexed(p.type), nullable=True)
            for p in self.indexed
        ] + [pa.field(p.name, evm_abi.arrow_type(p.type), nullable=True) for p in self.body]
        self.return_field = (
            pa.field(name, pa.struct(self.fields), nullable=False)
            if self.fields
            else pa.field(name, pa.null(), nullable=True)
        )

    def __call__(self, t1, t2, t3, data, _signature) -> pa.Array:
        n = len(data)
        if not self.fields:
            return pa.nulls(n)
        cols: list[pa.Array] = []
        for param, topic in zip(self.indexed, (t1, t2, t3), strict=False):
            mat, ok = evm_abi.fsb_matrix(topic, 32)
            if param.type.is_word:
                ok = ok & evm_abi.word_valid(param.type, mat, lenient_address=True)
                cols.append(evm_abi.decode_word_column(param.type, mat, ok))
            elif pa.types.is_null(topic.type):
                cols.append(pa.nulls(n, FSB32))
            else:
                cols.append(topic)
        if self.body:
            body_cols, _ = evm_abi.decode_sequence(self.body_types, data)
            cols.extend(body_cols)
        return struct_array(self.fields, cols, n)


def _refuse_null_binary_literal(name: str, constant: bool, data: pa.Array) -> None:
    """A NULL literal is not a `Binary(Some(…))` scalar."""
    if constant and len(data) and data.null_count == len(data):
        raise fail(f"{name}: expected Binary scalar, but got Binary")


class ParamsDecoder:
    """`evm_decode_params(input, '<function with named params>')`."""

    def __init__(self, function: evm_abi.Function, data_constant: bool) -> None:
        self.types = [p.type for p in function.params]
        self.fields = [
            pa.field(p.name, evm_abi.arrow_type(p.type), nullable=True) for p in function.params
        ]
        self.return_field = pa.field("evm_decode_params", pa.struct(self.fields), nullable=True)
        self.selector = np.frombuffer(function.selector, np.uint8)
        self.data_constant = data_constant

    def __call__(self, data, _signature) -> pa.Array:
        _refuse_null_binary_literal("evm_decode_params", self.data_constant, data)
        n = len(data)
        selectors, ok = evm_abi.binary_matrix(data, 0, 4)
        ok &= (selectors == self.selector).all(axis=1)
        cols, ok = evm_abi.decode_sequence(self.types, data, start=4, row_ok=ok)
        if not self.types:
            return struct_array([], [], n, ~ok)
        return struct_array(self.fields, cols, n, ~ok)


class TypeDecoder:
    """`evm_decode_type(data, '<type>')`: NULL where the data does not decode."""

    def __init__(self, ty: SolType, data_constant: bool) -> None:
        self.ty = ty
        self.arrow = evm_abi.arrow_type(ty)
        self.return_field = pa.field("evm_decode_type", self.arrow, nullable=True)
        self.data_constant = data_constant

    def __call__(self, data, _ty) -> pa.Array:
        _refuse_null_binary_literal("evm_decode_type", self.data_constant, data)
        n = len(data)
        ty = self.ty
        if ty.is_word:
            cols, _ = evm_abi.decode_sequence([ty], data)
            return cols[0]
        if ty.kind == "tuple" and ty.components and all(c.is_word for c in ty.components):
            cols, ok = evm_abi.decode_sequence(list(ty.components), data)
            return struct_array(list(self.arrow), cols, n, ~ok)
        rows = evm_abi.decode_rows([ty], data.to_pylist())
        return pa.array([r[0] if r is not None else None for r in rows], self.arrow)


# --------------------------------------------------------------------------------------------------
# Encoders (any argument types; everything is checked while computing)
# --------------------------------------------------------------------------------------------------


def _constant_utf8(values: pa.Array, constant: bool, what: str, name: str) -> str | None:
    """The text of a constant Utf8 argument, refused as Amp refuses it; None for 0 rows."""
    if not constant:
        raise fail(
            f"{name}: expected scalar argument for {what} but got "
            + arrow_type_display(values.type)
        )
    if not len(values):
        return None
    text = _first(values)
    if values.type != pa.string() or text is None:
        raise fail(f"expected Utf8, got {arrow_type_display(values.type)}")
    return text


def _sol_value(values: pa.Array, constant: bool, sol: SolType, row: int) -> object:
    try:
        return scalar_to_sol(values, sol) if constant else array_to_sol(values, sol, row)
    except ConversionError as exc:
        raise fail(str(exc)) from None


class TypeEncoder:
    """`evm_encode_type(value, '<type>')`: `abi_encode` of the value as that Solidity type."""

    def __init__(self, constant: Sequence[bool]) -> None:
        self.constant = tuple(constant)
        self._types: dict[str, SolType] = {}

    def _sol_type(self, text: str) -> SolType:
        ty = self._types.get(text)
        if ty is None:
            try:
                ty = self._types[text] = evm_abi.parse_type(text)
            except AbiError as exc:
                raise fail(f"failed to parse Solidity type: {exc}") from None
        return ty

    def __call__(self, *args: pa.Array) -> pa.Array:
        if len(args) != 2:
            raise fail(f"evm_encode_type: expected at 2 arguments, but got {len(args)}")
        values, types = args
        text = _constant_utf8(types, self.constant[1], "the Solidity type", "evm_encode_type")
        if text is None:
            return pa.array([], pa.binary())
        ty = self._sol_type(text)
        canonical = [ty.canonical()]
        n = len(values)
        if self.constant[0]:
            encoded = eth_abi.encode(canonical, [_sol_value(values, True, ty, 0)])
            return _repeat(encoded, n, pa.binary())
        return pa.array(
            [eth_abi.encode(canonical, [_sol_value(values, False, ty, i)]) for i in range(n)],
            pa.binary(),
        )


def parse_function(text: str, name: str) -> evm_abi.Function:
    """`FunctionCall::try_from(&ScalarValue)` with `.context(name)`: named parameters only."""
    try:
        function = evm_abi.parse_function(text)
    except AbiError as exc:
        raise fail(f"parse function signature: {exc}", name) from None
    if any(not p.name for p in function.params):
        raise fail(f"function {function.name} has unnamed input parameter", name)
    return function


class ParamsEncoder:
    """`evm_encode_params(v1, …, vN, '<function with named params>')`: selector + ABI arguments."""

    def __init__(self, constant: Sequence[bool]) -> None:
        self.constant = tuple(constant)
        self._functions: dict[str, evm_abi.Function] = {}

    def __call__(self, *args: pa.Array) -> pa.Array:
        name = "evm_encode_params"
        *values, signatures = args
        text = _constant_utf8(
            signatures, self.constant[-1], "the Solidity function signature", name
        )
        if text is None:
            return pa.array([], pa.binary())
        function = self._functions.get(text)
        if function is None:
            function = self._functions[text] = parse_function(text, name)
        types = [p.type for p in function.params]
        if len(values) != len(types):
            raise fail(
                f"{name}: expected {len(types)} arguments for the function signature but got "
                f"{len(values)}"
            )
        canonical = [t.canonical() for t in types]
        columns = list(zip(values, self.constant, strict=False))
        rows = next((len(c) for c, constant in columns if not constant), 1)
        encoded = [
            function.selector
            + eth_abi.encode(
                canonical,
                [
                    _sol_value(c, constant, t, i)
                    for (c, constant), t in zip(columns, types, strict=True)
                ],
            )
            for i in range(rows)
        ]
        n = len(signatures)
        return pa.array(encoded if rows == n else encoded[:1] * n, pa.binary())


# --------------------------------------------------------------------------------------------------
# evm_encode_hex / evm_decode_hex
# --------------------------------------------------------------------------------------------------

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def hex_bytes(text: str) -> bytes:
    """`alloy::hex::decode`: an optional `0x` prefix, then pairs of hex digits. Raises ValueError
    with the `FromHexError` text."""
    digits = text[2:] if text.startswith("0x") else text
    if len(digits) % 2:
        raise ValueError("Odd number of digits")
    for index, char in enumerate(digits):
        if char not in _HEX_DIGITS:
            raise ValueError(f"Invalid character {char!r} at position {index}")
    return bytes.fromhex(digits)


def encode_hex_checked(text: str) -> bytes:
    """The 20 or 32 bytes of a hex literal, or Amp's refusal text (ValueError)."""
    try:
        data = hex_bytes(text)
    except ValueError as exc:
        raise ValueError(f"evm_encode_hex: invalid hex string: {exc}") from None
    if len(data) not in (20, 32):
        raise ValueError(f"evm_encode_hex: expected 20 or 32 bytes, got {len(data)}")
    return data


class EncodeHex:
    """`evm_encode_hex('<hex>')`: only a literal argument is computed."""

    def __init__(self, constant: bool, width: int) -> None:
        self.constant = constant
        self.width = width

    def __call__(self, strings: pa.Array) -> pa.Array:
        if not self.constant:
            raise fail(
                "evm_encode_hex: expected scalar argument but got "
                + arrow_type_display(strings.type)
            )
        if not len(strings):
            return pa.array([], pa.binary(self.width))
        text = _first(strings)
        if text is None:
            raise fail("evm_encode_hex: input cannot be null")
        try:
            data = encode_hex_checked(text)
        except ValueError as exc:
            raise fail(str(exc)) from None
        return _repeat(data, len(strings), pa.binary(len(data)))


class DecodeHex:
    """`evm_decode_hex(FixedSizeBinary(20|32) column)`: `0x…` lowercase hex; a literal is refused."""

    def __init__(self, constant: bool) -> None:
        self.constant = constant

    def __call__(self, values: pa.Array) -> pa.Array:
        if self.constant:
            raise fail(
                f"evm_decode_hex: expected Array, but got {arrow_type_display(values.type)}"
            )
        return pa.array(
            ["0x" + v.hex() if v is not None else None for v in values.to_pylist()], pa.string()
        )


# --------------------------------------------------------------------------------------------------
# shift_units
# --------------------------------------------------------------------------------------------------

MAX_UNITS = 32
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_INTEGER_TEXT = re.compile(r"[+-]?\d+\Z")
_I64 = (-(2**63), 2**63 - 1)


def _big_decimal(text: str) -> decimal.Decimal:
    """`BigDecimal::from_str`; ValueError with `ParseBigDecimalError`'s text."""
    if not text:
        raise ValueError("Failed to parse empty string")
    if not _DECIMAL_TEXT.match(text):
        raise ValueError("invalid digit found in string")
    return decimal.Decimal(text)


def _i64(text: str) -> int:
    """`str::parse::<i64>`; ValueError with `ParseIntError`'s text."""
    if not text:
        raise ValueError("cannot parse integer from empty string")
    if not _INTEGER_TEXT.match(text) or text in "+-":
        raise ValueError("invalid digit found in string")
    value = int(text)
    if value > _I64[1]:
        raise ValueError("number too large to fit in target type")
    if value < _I64[0]:
        raise ValueError("number too small to fit in target type")
    return value


def _float_text(value: float, typ: pa.DataType) -> str:
    """Rust's shortest round-trip text of an f32/f64."""
    return str(np.float32(value)) if typ == pa.float32() else repr(float(value))


def _decimals(values: pa.Array, literal: bool) -> list[decimal.Decimal | None]:
    """`scalar_to_bigdecimal` / `array_to_bigdecimal` of the value argument."""
    t = values.type
    name = "shift_units"
    out: list[decimal.Decimal | None] = []
    for v in values.to_pylist():
        if v is None:
            if literal:
                raise fail(f"{name}: value must be a non-null numeric type")
            out.append(None)
        elif pa.types.is_floating(t):
            kind = "float32" if t == pa.float32() else "float64"
            try:
                out.append(_big_decimal(_float_text(v, t)))
            except ValueError as exc:
                what = (
                    f"failed to parse {kind}"
                    if literal
                    else "failed to convert String to BigDecimal"
                )
                raise fail(f"{name}: {what}: {exc}") from None
        elif pa.types.is_decimal(t):
            out.append(v if t.scale > 0 else v.scaleb(t.scale, _DECIMALS))
        elif pa.types.is_string(t):
            try:
                out.append(_big_decimal(v))
            except ValueError as exc:
                what = (
                    "failed to parse value"
                    if literal
                    else "failed to convert String to BigDecimal"
                )
                raise fail(f"{name}: {what}: {exc}") from None
        else:
            out.append(decimal.Decimal(v))
        if literal:
            break
    return out


def _units(units: pa.Array, literal: bool) -> list[int | None]:
    """`scalar_to_i64` / `array_to_i64` of the units argument."""
    name = "shift_units"
    out: list[int | None] = []
    for u in units.to_pylist():
        if u is None:
            if literal:
                raise fail(f"{name}: expected numeric or string scalar")
            out.append(None)
        elif isinstance(u, str):
            try:
                out.append(_i64(u))
            except ValueError as exc:
                raise fail(f"{name}: failed to parse integer: {exc}") from None
        else:
            out.append(int(u))
        if literal:
            break
    return out


def _shifted(value: decimal.Decimal, units: int) -> str:
    """`parse_value`: `value × 10^units` as a plain decimal string without trailing zeros."""
    if units != 0 and abs(units) > MAX_UNITS:
        raise fail(
            f"shift_units: units must be between -{MAX_UNITS} and {MAX_UNITS} (got {units})"
        )
    shifted = value.scaleb(units, _DECIMALS)
    if shifted.is_zero():
        return "0"
    return format(shifted.normalize(_DECIMALS), "f")


class ShiftUnits:
    """`shift_units(value, units)`. NULL column values give NULL, NULL column units count as 1
    (Amp's `unwrap_or(1)`); NULL literals are refused."""

    def __init__(self, constant: Sequence[bool]) -> None:
        self.value_literal, self.units_literal = constant

    def __call__(self, values: pa.Array, units: pa.Array) -> pa.Array:
        n = len(values)
        if n == 0:
            return pa.array([], pa.string())
        if self.value_literal and self.units_literal:
            result = _shifted(_decimals(values, True)[0], _units(units, True)[0])
            return _repeat(result, n, pa.string())
        if self.units_literal:
            shift = _units(units, True)[0]
            shifts = [shift] * n
        else:
            shifts = [1 if u is None else u for u in _units(units, False)]
        if self.value_literal:
            value = _decimals(values, True)[0]
            return pa.array([_shifted(value, s) for s in shifts], pa.string())
        return pa.array(
            [
                None if v is None else _shifted(v, s)
                for v, s in zip(_decimals(values, False), shifts, strict=True)
            ],
            pa.string(),
        )
