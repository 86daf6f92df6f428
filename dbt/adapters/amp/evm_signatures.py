"""Solidity event signatures, parsed for the EVM macros (`macros/evm/decode.sql`).

Amp's EVM UDFs take human-readable event signatures with parameter names and `indexed` markers,
`'Transfer(address indexed from, address indexed to, uint256 value)'`. The macros need the
parameters to count topics and to name output columns, so they call `parse_event_signature`
(exposed to Jinja as `adapter.amp_evm_event_params`). It accepts the syntax Amp's (alloy's) parser
accepts: an optional `event` keyword, tuples `(…)` / `tuple(…)`, arrays `T[]` / `T[k]`, `uint` for
`uint256`, `byte`, `address payable`, data locations (ignored); and it rejects what Amp rejects
(unknown types such as `uint7` or `bytes33`, unbalanced brackets) at compile time instead of at
query time. One rule is the adapter's own: every parameter must be named, because the decoded
struct's fields and the output columns are named after the parameters.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

EXAMPLE = "'Transfer(address indexed from, address indexed to, uint256 value)'"
_TOKEN = re.compile(r"\s*(?:([A-Za-z_$][A-Za-z0-9_$]*)|(\d+)|([()\[\],]))")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_LOCATIONS = frozenset({"memory", "calldata", "storage"})
_INT = re.compile(r"(u?int)([1-9]\d*)?\Z")
_FIXED_BYTES = re.compile(r"bytes([1-9]\d*)\Z")


class EventSignatureError(ValueError):
    """A signature the macros cannot use; the text says what is wrong and how to write it."""


@dataclass(frozen=True)
class EventParam:
    name: str
    type: str  # as written, whitespace collapsed: "(uint8 a, bytes32[] b)"
    canonical: str  # the ABI type: "(uint8,bytes32[])"; "uint" is "uint256"
    indexed: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int


class _Parser:
    """Recursive descent over the signature's tokens; positions kept to quote what was written."""

    def __init__(self, signature: str) -> None:
        self.signature = signature
        self.tokens = _tokenize(signature, self.malformed)
        self.i = 0

    def malformed(self, detail: str) -> EventSignatureError:
        return EventSignatureError(
            f"Malformed event signature '{self.signature}': {detail}. Write it like {EXAMPLE}."
        )

    def peek(self) -> str | None:
        return self.tokens[self.i].text if self.i < len(self.tokens) else None

    def next(self) -> _Token:
        if self.i >= len(self.tokens):
            raise self.malformed("it ends too early (a ')' or ']' is missing)")
        self.i += 1
        return self.tokens[self.i - 1]

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise self.malformed(f"expected '{text}' but found '{token.text}'")

    def source(self, first: int, last: int) -> str:
        """The signature text of tokens first..last-1, whitespace collapsed."""
        text = self.signature[self.tokens[first].start : self.tokens[last - 1].end]
        return " ".join(text.split())

    def parse_type(self) -> str:
        """One type; returns its canonical form."""
        if self.peek() == "tuple":
            self.next()
            if self.peek() != "(":
                raise self.malformed("'tuple' must be followed by its components in '(…)'")
        if self.peek() == "(":
            canonical = "(" + ",".join(p[1] for p in self.parse_list(top_level=False)) + ")"
        else:
            canonical = self.elementary(self.next().text)
            if canonical == "address" and self.peek() == "payable":
                self.next()
        while self.peek() == "[":
            self.next()
            if self.peek() == "]":
                self.next()
                canonical += "[]"
                continue
            size = self.next().text
            if not size.isdigit() or int(size) == 0:
                raise self.malformed(f"'{size}' is not an array size (a positive integer)")
            self.expect("]")
            canonical += f"[{int(size)}]"
        return canonical

    def elementary(self, word: str) -> str:
        if word in ("address", "bool", "string", "bytes", "function"):
            return word
        if word == "byte":
            return "bytes1"
        match = _INT.match(word)
        if match:
            bits = int(match.group(2) or 256)
            if bits % 8 or bits > 256:
                raise self.malformed(f"unknown type '{word}' (integer sizes are 8, 16, …, 256)")
            return f"{match.group(1)}{bits}"
        match = _FIXED_BYTES.match(word)
        if match:
            if int(match.group(1)) > 32:
                raise self.malformed(f"unknown type '{word}' (fixed bytes are bytes1 … bytes32)")
            return word
        raise self.malformed(f"unknown type '{word}'")

    def parse_list(self, top_level: bool) -> list[tuple[str, str, str, bool, str]]:
        """`( param, … )`: (name, canonical, written type, indexed, written parameter) each."""
        self.expect("(")
        params: list[tuple[str, str, str, bool, str]] = []
        if self.peek() == ")":
            self.next()
            return params
        while True:
            if self.peek() in (",", ")"):
                raise self.malformed("a parameter is empty")
            first = self.i
            canonical = self.parse_type()
            written = self.source(first, self.i)
            indexed, name = False, ""
            while self.peek() not in (",", ")", None):
                word = self.next().text
                if word == "indexed" and top_level and not indexed and not name:
                    indexed = True
                elif word in _LOCATIONS and not name:
                    continue
                elif _IDENT.match(word) and not name:
                    name = word
                else:
                    raise self.malformed(f"unexpected '{word}' in a parameter")
            params.append((name, canonical, written, indexed, self.source(first, self.i)))
            if self.next().text == ")":
                return params


def _tokenize(signature: str, malformed) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(signature.rstrip())
    while pos < end:
        match = _TOKEN.match(signature, pos)
        if not match:
            bad = signature[pos:].strip()[:1]
            raise malformed(f"unexpected character '{bad}'")
        group = match.lastindex or 0
        tokens.append(_Token(match.group(group), match.start(group), match.end(group)))
        pos = match.end()
    return tokens


def parse_event_signature(signature: str) -> list[EventParam]:
    """The parameters of `signature` in declaration order (tuple types kept whole in `type`).
    Raises EventSignatureError for anything that is not a usable event signature."""
    text = str(signature).strip()
    not_an_event = EventSignatureError(
        f"Not an event signature: '{text}' (expected e.g. {EXAMPLE})"
    )
    open_at = text.find("(")
    if open_at < 1 or not text.endswith(")"):
        raise not_an_event
    parser = _Parser(text)
    if parser.peek() == "event":  # the optional keyword, as in Solidity source
        parser.next()
    name = parser.next().text
    if not _IDENT.match(name) or parser.peek() != "(":
        raise not_an_event
    params = parser.parse_list(top_level=True)
    if parser.peek() is not None:
        raise parser.malformed(f"unexpected '{parser.peek()}' after the parameter list")
    result = []
    for param_name, canonical, written, indexed, whole in params:
        if not param_name:
            raise EventSignatureError(
                f"Event parameter without a name in '{text}': '{whole}'. Name every parameter, "
                "e.g. 'uint256 value'."
            )
        result.append(EventParam(param_name, written, canonical, indexed))
    return result
