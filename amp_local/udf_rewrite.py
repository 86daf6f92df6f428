"""The SQL-text side of Amp's UDFs on DataFusion's Python API: finding calls, renaming them to
per-call variants, and undoing the renaming in DataFusion's display text.

Why rename at all: a Python UDF has one fixed list of argument types and one fixed return type, while
Amp's UDFs return a type that depends on a literal (`evm_decode_log(…, '<event>')` returns that
event's struct), accept any argument type (`evm_encode_type`, `shift_units`) and behave differently
for a literal argument than for a column (DataFusion hands a literal to a Rust UDF as a `Scalar`).
So each call is rewritten to a variant `<amp name>__<16 hex>` registered for exactly that call's
argument types, literal signature and literal-ness. Only the function-name token changes (found with
sqlglot's Postgres tokenizer, so strings, quoted identifiers and comments are untouched); the rest of
the SQL is preserved byte for byte.

The text this module reads from DataFusion, pinned by golden tests (`tests/unit/test_udf_rewrite.py`),
so that a DataFusion upgrade that changes it fails loudly:

* variant names in display text (`evm_decode_hex__9f…(logs.address)` as an output column name, in
  error messages): `unrewrite_text` turns them back into Amp's names;
* the coercion error DataFusion raises for a call whose argument types do not fit
  (`… coercion from Struct("a": UInt64), Utf8 to the signature Exact(…) failed …`): the argument
  types of a call are read from it (`coerced_argument_types`), by planning the SQL with that call
  renamed to a probe that no argument fits;
* DataFusion's rendering of errors raised by Python code (`PyErr { type: …, value: …, traceback: … }`)
  and its `DataFusion error: ` prefix, which `clean_error_text` removes.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import Token, TokenType

from amp_local.errors import INTERNAL_SUFFIX
from amp_local.evm_values import arrow_type_display

AMP_FUNCTIONS = (
    "evm_topic",
    "evm_decode_log",
    "evm_decode",
    "evm_decode_params",
    "evm_encode_params",
    "evm_decode_type",
    "evm_encode_type",
    "evm_encode_hex",
    "evm_decode_hex",
    "shift_units",
    "block_num",
)
_AMP_NAMES = frozenset(AMP_FUNCTIONS)
VARIANT_RE = re.compile(r"\b(" + "|".join(AMP_FUNCTIONS) + r")__([0-9a-f]{16})\b")

_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}
_NAME_TOKENS = {TokenType.VAR, TokenType.IDENTIFIER}


@dataclass(frozen=True)
class Argument:
    """One argument of a call: its character span in the SQL and its tokens."""

    start: int
    end: int
    tokens: tuple[Token, ...]

    @property
    def string_literal(self) -> str | None:
        """The value of a lone string literal (what DataFusion passes as a literal argument)."""
        if len(self.tokens) == 1 and self.tokens[0].token_type == TokenType.STRING:
            return self.tokens[0].text
        return None

    @property
    def is_null_literal(self) -> bool:
        return len(self.tokens) == 1 and self.tokens[0].token_type == TokenType.NULL

    @property
    def is_literal(self) -> bool:
        """A lone literal: what reaches a UDF's planning-time checks as a `ScalarValue`."""
        return len(self.tokens) == 1 and self.tokens[0].token_type in (
            TokenType.STRING,
            TokenType.NULL,
            TokenType.NUMBER,
            TokenType.TRUE,
            TokenType.FALSE,
        )

    @property
    def is_constant(self) -> bool:
        """No column in it: DataFusion computes it once and the UDF sees a `Scalar`, as for a
        literal. Names followed by `(` are functions; `block_num()` stands for a column."""
        tokens = self.tokens
        for i, token in enumerate(tokens):
            if token.token_type in (TokenType.SELECT, TokenType.STAR):
                return False
            is_call = i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN
            if token.token_type in _NAME_TOKENS and not is_call:
                return False
            if is_call and token.text.lower() == "block_num":
                return False
        return True


@dataclass(frozen=True)
class Call:
    """A call of one of Amp's built-in functions in the SQL text."""

    name: str  # Amp's (lowercase) function name
    name_start: int
    name_end: int
    end: int  # just past the closing parenthesis
    arguments: tuple[Argument, ...]

    @property
    def arity(self) -> int:
        return len(self.arguments)


def find_calls(sql: str) -> list[Call]:
    """Every unqualified call of an Amp built-in, in text order (outer calls before inner ones).
    Raises sqlglot's `TokenError` for SQL it cannot tokenize."""
    tokens = Postgres.Tokenizer().tokenize(sql)
    calls = []
    for i, token in enumerate(tokens):
        if i + 1 >= len(tokens) or tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        if token.token_type in (TokenType.STRING, TokenType.NUMBER):
            continue
        name = token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()
        if name not in _AMP_NAMES:
            continue
        if i > 0 and tokens[i - 1].token_type == TokenType.DOT:
            continue  # qualified: a dataset's function, not the built-in
        arguments, close = _arguments(tokens, i + 2)
        end = tokens[close].end + 1 if close < len(tokens) else len(sql)
        calls.append(Call(name, token.start, token.end + 1, end, tuple(arguments)))
    return calls


def _arguments(tokens: list[Token], first: int) -> tuple[list[Argument], int]:
    """The top-level arguments starting at token `first`, and the index of the closing token."""
    arguments: list[Argument] = []
    current: list[Token] = []
    depth = 0
    j = first
    while j < len(tokens):
        token = tokens[j]
        if token.token_type in _CLOSE and depth == 0:
            break
        if token.token_type in _OPEN:
            depth += 1
        elif token.token_type in _CLOSE:
            depth -= 1
        if token.token_type == TokenType.COMMA and depth == 0:
            arguments.append(_argument(current, token.start))
            current = []
        else:
            current.append(token)
        j += 1
    if current or arguments:
        arguments.append(_argument(current, tokens[j].start if j < len(tokens) else 0))
    return arguments, j


def _argument(tokens: list[Token], position: int) -> Argument:
    if not tokens:
        return Argument(position, position, ())
    return Argument(tokens[0].start, tokens[-1].end + 1, tuple(tokens))


# --------------------------------------------------------------------------------------------------
# Variant names
# --------------------------------------------------------------------------------------------------


def variant_name(amp_name: str, key: str) -> str:
    """The name of the variant of `amp_name` registered for `key` (its types, literals, …)."""
    return f"{amp_name}__{hashlib.sha1(key.encode()).hexdigest()[:16]}"


def amp_function_name(name: str) -> str:
    """A variant's Amp function name (`evm_decode_log__1a2b…` → `evm_decode_log`); any other name
    is returned unchanged."""
    match = VARIANT_RE.fullmatch(name)
    return match.group(1) if match else name


def rename_calls(sql: str, replacements: Iterable[tuple[Call, str]]) -> str:
    """`sql` with each call's name token (or, for a value starting with `(`, the whole call)
    replaced. Calls may nest; replacements apply right to left so spans stay valid."""
    edits = []
    for call, text in replacements:
        if text.startswith("("):
            edits.append((call.name_start, call.end, text))
        else:
            edits.append((call.name_start, call.name_end, text))
    out = sql
    for start, end, text in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + text + out[end:]
    return out


def unrewrite_text(text: str) -> str:
    """Amp's names back in DataFusion display text (error messages, output column names)."""
    return VARIANT_RE.sub(lambda m: m.group(1), text)


# --------------------------------------------------------------------------------------------------
# Reading DataFusion's messages
# --------------------------------------------------------------------------------------------------

_COERCION_RE = re.compile(
    r"Failed to coerce arguments to satisfy a call to '(?P<name>[^']+)' function: "
    r"coercion from (?P<types>.*?) to the signature "
)


def split_type_list(text: str) -> list[str]:
    """`Struct("a": Int32, "b": Utf8), Decimal128(10, 2)` → the two type displays."""
    parts, depth, current, quote = [], 0, [], False
    for char in text:
        if char == '"':
            quote = not quote
        elif not quote and char in "([{":
            depth += 1
        elif not quote and char in ")]}":
            depth -= 1
        if char == "," and depth == 0 and not quote:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def coerced_argument_types(message: str) -> tuple[str, list[str]] | None:
    """(function name, argument type displays) of a DataFusion argument-coercion error."""
    match = _COERCION_RE.search(message)
    if match is None:
        return None
    return match["name"], split_type_list(match["types"])


_PYERR_RE = re.compile(
    r"PyErr \{ type: <class '[^']*'>, value: \w+\((?P<q>['\"])(?P<msg>.*?)(?P=q)\), "
    r"traceback: (?:None|Some\(.*?\)) \}",
    re.S,
)
_DATAFUSION_PREFIX = "DataFusion error: "


def _exception_message(match: re.Match) -> str:
    """The message inside `ValueError('…')`, unescaped from Python's repr."""
    quoted = match["q"] + match["msg"] + match["q"]
    try:
        return ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return match["msg"]


def clean_error_text(text: str) -> str:
    """DataFusion's text of an error without what datafusion-python adds: the `DataFusion error: `
    prefix and the `PyErr { … traceback … }` around an exception raised in Python, and with Amp's
    function names instead of variant names."""
    text = _PYERR_RE.sub(_exception_message, text)
    while text.startswith(_DATAFUSION_PREFIX):
        text = text[len(_DATAFUSION_PREFIX) :]
    return unrewrite_text(text)


def any_amp_call(sql: str) -> bool:
    """A cheap pre-check: could `sql` call one of Amp's functions at all?"""
    lowered = sql.lower()
    return any(name in lowered for name in _AMP_NAMES)


# --------------------------------------------------------------------------------------------------
# DataFusion's signature errors, for signatures a Python UDF cannot declare
# --------------------------------------------------------------------------------------------------


def _no_function_matches(name: str, types: Sequence[object], candidates: Sequence[str]) -> str:
    listed = ", ".join(_display(t) for t in types)
    lines = "".join(f"\n\t{name}({c})" for c in candidates)
    return (
        f"No function matches the given name and argument types '{name}({listed})'. "
        f"You might need to add explicit type casts.\n\tCandidate functions:{lines}"
    )


def _display(t: object) -> str:
    return t if isinstance(t, str) else arrow_type_display(t)


def signature_error_coercion(
    name: str, types: Sequence[object], signature: str, candidates: Sequence[str]
) -> str:
    """DataFusion's `Plan` text for arguments no signature of `name` accepts."""
    listed = ", ".join(_display(t) for t in types)
    return (
        f"Failed to coerce arguments to satisfy a call to '{name}' function: coercion from "
        f"{listed} to the signature {signature} failed. "
        + _no_function_matches(name, types, candidates)
    )


def signature_error_arity(
    name: str, expected: int, types: Sequence[object], candidates: Sequence[str]
) -> str:
    """DataFusion's `Plan` text for a wrong argument count to a `OneOf` of n-argument
    signatures (one per candidate)."""
    error = (
        f"Error during planning: Function '{name}' expects {expected} arguments but received "
        f"{len(types)}"
    )
    return (
        f"Internal error: Function '{name}' failed to match any signature, errors: "
        f"{','.join([error] * len(candidates))}{INTERNAL_SUFFIX}. "
        + _no_function_matches(name, types, candidates)
    )


def signature_error_zero_arguments(name: str, candidates: Sequence[str]) -> str:
    """DataFusion's `Plan` text for a call without arguments to a function that needs some."""
    return f"'{name}' does not support zero arguments. " + _no_function_matches(
        name, [], candidates
    )
