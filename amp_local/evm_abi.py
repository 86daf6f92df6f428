"""Solidity ABI support for Amp's EVM UDFs: signature parsing, Solidity→Arrow types, columnar decoding.

* `parse_type`, `parse_event`, `parse_function` parse human-readable Solidity signatures the way Amp's
  alloy-based parser does (parameter names, `indexed`, `uint`→`uint256`, tuples `(a,b)` / `tuple(a,b)`,
  arrays `T[]` / `T[k]`, data locations and function modifiers ignored). Errors raise `AbiError`.
* `arrow_type` / `arrow_type_indexed` implement Amp's `sol_to_arrow_type` mapping
  (`crates/core/common/src/udfs/evm_common.rs`), including the bit-width thresholds (≤64 → ints,
  65–125 → Decimal128(38,0), 126–251 → Decimal256(76,0), 252–256 → Utf8 decimal string).
* `decode_words` is the hot path: for "word" types (address, bool, (u)intN, bytesN) every value is one
  32-byte slot at a fixed offset, so whole columns are decoded with numpy slicing (validating padding
  exactly as eth-abi does); only uint/int > 251 bits need a Python loop (`int.from_bytes` → `str`).
  Anything else (dynamic types, arrays, nested tuples) falls back to `eth_abi.decode` row by row.
* `to_abi_value` converts Arrow/Python values to what `eth_abi.encode` accepts, for the encoders.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass

import eth_abi
import numpy as np
import pyarrow as pa
from eth_hash.auto import keccak

DEC128 = pa.decimal128(38, 0)
DEC256 = pa.decimal256(76, 0)
_DEC_CTX = decimal.Context(prec=200)


class AbiError(ValueError):
    """A Solidity signature/type that cannot be parsed or mapped (a plan error in Amp)."""


# --------------------------------------------------------------------------------------------
# Types and signature parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SolType:
    kind: str  # uint int address bool bytes fbytes string function array farray tuple
    size: int = 0  # bits for (u)int, N for bytesN, k for T[k]
    elem: SolType | None = None
    components: tuple[SolType, ...] = ()

    def canonical(self) -> str:
        k = self.kind
        if k in ("uint", "int"):
            return f"{k}{self.size}"
        if k == "fbytes":
            return f"bytes{self.size}"
        if k == "array":
            return f"{self.elem.canonical()}[]"
        if k == "farray":
            return f"{self.elem.canonical()}[{self.size}]"
        if k == "tuple":
            return "(" + ",".join(c.canonical() for c in self.components) + ")"
        return k

    @property
    def is_word(self) -> bool:
        """A value type occupying exactly one 32-byte ABI slot."""
        return self.kind in ("uint", "int", "address", "bool", "fbytes")

    @property
    def is_dynamic(self) -> bool:
        if self.kind in ("bytes", "string", "array"):
            return True
        if self.kind == "farray":
            return self.elem.is_dynamic
        if self.kind == "tuple":
            return any(c.is_dynamic for c in self.components)
        return False

    def __str__(self) -> str:
        return self.canonical()


@dataclass(frozen=True)
class Param:
    name: str
    type: SolType
    indexed: bool = False


@dataclass(frozen=True)
class Event:
    name: str
    params: tuple[Param, ...]
    anonymous: bool = False

    @property
    def canonical(self) -> str:
        return f"{self.name}(" + ",".join(p.type.canonical() for p in self.params) + ")"

    @property
    def topic0(self) -> bytes:
        return keccak(self.canonical.encode())

    @property
    def indexed(self) -> list[Param]:
        return [p for p in self.params if p.indexed]

    @property
    def body(self) -> list[Param]:
        return [p for p in self.params if not p.indexed]


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]

    @property
    def canonical(self) -> str:
        return f"{self.name}(" + ",".join(p.type.canonical() for p in self.params) + ")"

    @property
    def selector(self) -> bytes:
        return keccak(self.canonical.encode())[:4]


_TOKEN_RE = re.compile(r"\s*(?:([A-Za-z_$][A-Za-z0-9_$]*)|(\d+)|([()\[\],]))")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_LOCATIONS = {"memory", "calldata", "storage"}


def _tokenize(s: str) -> list[str]:
    toks: list[str] = []
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if not m or m.end() == pos:
            raise AbiError(f"unexpected character {s[pos:].strip()[:1]!r} at position {pos}")
        toks.append(m.group(m.lastindex))
        pos = m.end()
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> str:
        t = self.peek()
        if t is None:
            raise AbiError("unexpected end of input")
        self.i += 1
        return t

    def expect(self, tok: str) -> None:
        t = self.next()
        if t != tok:
            raise AbiError(f"expected {tok!r}, found {t!r}")

    def at_end(self) -> bool:
        return self.i >= len(self.toks)

    def parse_type(self) -> SolType:
        t = self.peek()
        if t == "(" or t == "tuple":
            if t == "tuple":
                self.next()
            comps = tuple(p.type for p in self.parse_params(allow_indexed=False))
            ty = SolType("tuple", components=comps)
        else:
            ty = _elementary(self.next())
            if ty.kind == "address" and self.peek() == "payable":
                self.next()
        while self.peek() == "[":
            self.next()
            if self.peek() == "]":
                self.next()
                ty = SolType("array", elem=ty)
            else:
                n = self.next()
                if not n.isdigit() or int(n) == 0:
                    raise AbiError(f"invalid array size {n!r}")
                self.expect("]")
                ty = SolType("farray", size=int(n), elem=ty)
        return ty

    def parse_params(self, allow_indexed: bool) -> list[Param]:
        self.expect("(")
        params: list[Param] = []
        if self.peek() == ")":
            self.next()
            return params
        while True:
            ty = self.parse_type()
            indexed = False
            name = ""
            while self.peek() not in (",", ")", None):
                t = self.next()
                if t == "indexed" and allow_indexed and not indexed and not name:
                    indexed = True
                elif t in _LOCATIONS and not name:
                    continue
                elif _IDENT.match(t) and not name:
                    name = t
                else:
                    raise AbiError(f"unexpected token {t!r} in parameter list")
            params.append(Param(name, ty, indexed))
            t = self.next()
            if t == ")":
                return params
            if t != ",":
                raise AbiError(f"expected ',' or ')', found {t!r}")


def _elementary(t: str) -> SolType:
    if t in ("address", "bool", "string", "bytes", "function"):
        return SolType(t)
    m = re.fullmatch(r"(u?int)(\d*)", t)
    if m:
        bits = int(m.group(2)) if m.group(2) else 256
        if m.group(2) and (m.group(2).startswith("0") or bits % 8 or not 8 <= bits <= 256):
            raise AbiError(f"invalid integer type {t!r}")
        return SolType(m.group(1), size=bits)
    m = re.fullmatch(r"bytes(\d+)", t)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 32 or m.group(1).startswith("0"):
            raise AbiError(f"invalid fixed bytes type {t!r}")
        return SolType("fbytes", size=n)
    if t == "byte":
        return SolType("fbytes", size=1)
    raise AbiError(f"unknown type {t!r}")


def parse_type(text: str) -> SolType:
    """Parse a single Solidity type such as `uint256`, `address[]` or `(uint112,uint112,uint32)`."""
    p = _Parser(text)
    if p.at_end():
        raise AbiError("empty type")
    ty = p.parse_type()
    if not p.at_end():
        raise AbiError(f"unexpected trailing input {p.peek()!r}")
    return ty


def _parse_named(text: str, keyword: str) -> tuple[_Parser, str]:
    p = _Parser(text)
    if p.peek() == keyword:
        p.next()
    name = p.next() if p.peek() not in (None, "(") else ""
    if not name or not _IDENT.match(name):
        raise AbiError(f"invalid {keyword} name {name!r}")
    return p, name


def parse_event(text: str) -> Event:
    """`Transfer(address indexed from, address indexed to, uint256 value)` → `Event`."""
    p, name = _parse_named(text, "event")
    params = p.parse_params(allow_indexed=True)
    anonymous = False
    if p.peek() == "anonymous":
        p.next()
        anonymous = True
    if not p.at_end():
        raise AbiError(f"unexpected trailing input {p.peek()!r}")
    return Event(name, tuple(params), anonymous)


_MODIFIERS = {"external", "public", "internal", "private", "view", "pure", "payable", "nonpayable"}


def parse_function(text: str) -> Function:
    """`transfer(address to, uint256 amount)` → `Function` (modifiers and `returns (...)` ignored)."""
    p, name = _parse_named(text, "function")
    params = p.parse_params(allow_indexed=False)
    while p.peek() in _MODIFIERS:
        p.next()
    if p.peek() == "returns":
        p.next()
        p.parse_params(allow_indexed=False)
    if not p.at_end():
        raise AbiError(f"unexpected trailing input {p.peek()!r}")
    return Function(name, tuple(params))


# --------------------------------------------------------------------------------------------
# Solidity → Arrow
# --------------------------------------------------------------------------------------------


def _int_arrow(signed: bool, bits: int) -> pa.DataType:
    if bits == 8:
        return pa.int8() if signed else pa.uint8()
    if bits == 16:
        return pa.int16() if signed else pa.uint16()
    if bits <= 32:
        return pa.int32() if signed else pa.uint32()
    if bits <= 64:
        return pa.int64() if signed else pa.uint64()
    if bits <= 125:
        return DEC128
    if bits <= 251:
        return DEC256
    return pa.string()


def arrow_type(ty: SolType) -> pa.DataType:
    """Amp's `sol_to_arrow_type`."""
    k = ty.kind
    if k == "bool":
        return pa.bool_()
    if k in ("uint", "int"):
        return _int_arrow(k == "int", ty.size)
    if k == "fbytes":
        return pa.binary(ty.size)
    if k == "address":
        return pa.binary(20)
    if k == "bytes":
        return pa.binary()
    if k == "string":
        return pa.string()
    if k == "array":
        return pa.list_(pa.field("item", arrow_type(ty.elem), nullable=True))
    if k == "farray":
        return pa.list_(pa.field("item", arrow_type(ty.elem), nullable=True), ty.size)
    if k == "tuple":
        return pa.struct(
            [pa.field(f"c{i}", arrow_type(c), nullable=True) for i, c in enumerate(ty.components)]
        )
    raise AbiError(f"cannot convert solidity type {ty} to arrow data type")


def arrow_type_indexed(ty: SolType) -> pa.DataType:
    """Indexed reference types are stored as their keccak256 hash in the topic."""
    if ty.kind in ("bytes", "string", "array", "farray", "tuple"):
        return pa.binary(32)
    return arrow_type(ty)


# --------------------------------------------------------------------------------------------
# Columnar word decoding (hot path)
# --------------------------------------------------------------------------------------------


def _validity(ok: np.ndarray) -> pa.Buffer | None:
    if ok.all():
        return None
    return pa.py_buffer(np.packbits(ok, bitorder="little"))


def _fixed_array(typ: pa.DataType, mat: np.ndarray, ok: np.ndarray) -> pa.Array:
    data = np.ascontiguousarray(mat, dtype=np.uint8)
    return pa.Array.from_buffers(typ, len(ok), [_validity(ok), pa.py_buffer(data.tobytes())])


def word_valid(ty: SolType, words: np.ndarray, lenient_address: bool = False) -> np.ndarray:
    """Per row: is the (n, 32) slot matrix a valid encoding of `ty`? Mirrors eth-abi's checks
    (zero padding for address/uintN/bytesN, sign extension for intN, bool ∈ {0, 1})."""
    k = ty.kind
    if k == "address":
        if lenient_address:
            return np.ones(len(words), bool)
        return ~words[:, :12].any(axis=1)
    if k == "fbytes":
        return ~words[:, ty.size :].any(axis=1)
    if k == "bool":
        return ~words[:, :31].any(axis=1) & (words[:, 31] <= 1)
    nbytes = ty.size // 8
    pad = words[:, : 32 - nbytes]
    if k == "uint":
        return ~pad.any(axis=1)
    neg = words[:, 32 - nbytes] >= 0x80
    return np.where(neg, (pad == 0xFF).all(axis=1), ~pad.any(axis=1))


def decode_word_column(ty: SolType, words: np.ndarray, ok: np.ndarray) -> pa.Array:
    """Decode an (n, 32) uint8 matrix of ABI slots as `ty` (a word type); NULL where not `ok`.

    Rows must already be validated (`word_valid`) where `ok` is true.
    """
    k = ty.kind
    if k == "address":
        return _fixed_array(pa.binary(20), words[:, 12:], ok)
    if k == "fbytes":
        return _fixed_array(pa.binary(ty.size), words[:, : ty.size], ok)
    if k == "bool":
        return pa.array(words[:, 31] == 1, pa.bool_(), mask=~ok)
    typ = _int_arrow(k == "int", ty.size)
    if ty.size <= 64:
        raw = np.ascontiguousarray(words[:, 24:]).view(">i8" if k == "int" else ">u8")[:, 0]
        return pa.array(raw.astype(typ.to_pandas_dtype()), typ, mask=~ok)
    if ty.size <= 251:
        width = 16 if ty.size <= 125 else 32
        le = words[:, ::-1][:, :width]  # little-endian two's complement
        return _fixed_array(typ, le, ok)
    flat = np.ascontiguousarray(words).tobytes()
    signed = k == "int"
    fb = int.from_bytes
    out = [
        str(fb(flat[i * 32 : i * 32 + 32], "big", signed=signed)) if o else None
        for i, o in enumerate(ok.tolist())
    ]
    return pa.array(out, pa.string())


def binary_matrix(arr: pa.Array, start: int, nbytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Bytes [start, start+nbytes) of every row of a Binary array as an (n, nbytes) matrix.

    The second result is True for non-null rows long enough to hold them.
    """
    n = len(arr)
    if arr.type != pa.binary():
        arr = arr.cast(pa.binary())
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    values = (
        np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    )
    lengths = offsets[1:] - offsets[:-1]
    ok = lengths >= start + nbytes
    if arr.null_count:
        ok &= arr.is_valid().to_numpy(zero_copy_only=False)
    if nbytes == 0:
        return np.zeros((n, 0), np.uint8), ok
    idx = np.where(ok, offsets[:-1] + start, 0)
    if len(values) < nbytes:
        values = np.concatenate([values, np.zeros(nbytes, np.uint8)])
    idx = np.minimum(idx, len(values) - nbytes)
    mat = values[idx[:, None] + np.arange(nbytes)]
    return mat, ok


def fsb_matrix(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A FixedSizeBinary(width) (or Null) array as an (n, width) matrix plus its validity."""
    n = len(arr)
    if pa.types.is_null(arr.type) or arr.null_count == n:
        return np.zeros((n, width), np.uint8), np.zeros(n, bool)
    buf = arr.buffers()[1]
    mat = np.frombuffer(buf, dtype=np.uint8, count=n * width, offset=arr.offset * width)
    ok = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(n, bool)
    return mat.reshape(n, width), ok


# --------------------------------------------------------------------------------------------
# Row-wise fallback (eth-abi) and Python ↔ Arrow conversion
# --------------------------------------------------------------------------------------------


def to_arrow_py(ty: SolType, v):
    """An eth-abi decoded value → the Python value `pa.array(..., arrow_type(ty))` accepts."""
    k = ty.kind
    if k in ("uint", "int"):
        if ty.size <= 64:
            return v
        if ty.size <= 251:
            return decimal.Decimal(v)
        return str(v)
    if k == "address":
        return bytes.fromhex(v[2:])
    if k in ("array", "farray"):
        return [to_arrow_py(ty.elem, x) for x in v]
    if k == "tuple":
        return {
            f"c{i}": to_arrow_py(c, x)
            for i, (c, x) in enumerate(zip(ty.components, v, strict=True))
        }
    return v


def decode_rows(types: list[SolType], rows: list, start: int = 0) -> list:
    """eth-abi decode of each row (bytes or None) from `start`; None where decoding fails."""
    canon = [t.canonical() for t in types]
    out = []
    for data in rows:
        if data is None or len(data) < start:
            out.append(None)
            continue
        try:
            vals = eth_abi.decode(canon, data[start:] if start else data, strict=False)
            out.append(tuple(to_arrow_py(t, v) for t, v in zip(types, vals, strict=True)))
        except Exception:
            out.append(None)
    return out


def decode_sequence(
    types: list[SolType], data: pa.Array, start: int = 0, row_ok: np.ndarray | None = None
) -> tuple[list[pa.Array], np.ndarray]:
    """Decode `data[start:]` of every row as the ABI sequence `types`.

    Returns one Arrow array per type and a per-row success mask (rows failing anywhere are NULL
    in all columns, as a failed `abi_decode_sequence` is in Amp).
    """
    n = len(data)
    if all(t.is_word for t in types):
        mat, ok = binary_matrix(data, start, 32 * len(types))
        if row_ok is not None:
            ok &= row_ok
        for j, t in enumerate(types):
            ok &= word_valid(t, mat[:, 32 * j : 32 * j + 32])
        cols = [
            decode_word_column(t, mat[:, 32 * j : 32 * j + 32], ok) for j, t in enumerate(types)
        ]
        return cols, ok
    pylist = data.cast(pa.binary()).to_pylist() if data.type != pa.binary() else data.to_pylist()
    if row_ok is not None:
        pylist = [d if row_ok[i] else None for i, d in enumerate(pylist)]
    decoded = decode_rows(types, pylist, start)
    ok = np.array([d is not None for d in decoded], dtype=bool) if n else np.zeros(0, bool)
    cols = [
        pa.array([d[j] if d is not None else None for d in decoded], arrow_type(t))
        for j, t in enumerate(types)
    ]
    return cols, ok


def to_abi_value(ty: SolType, v):
    """A Python value from an Arrow column → the value `eth_abi.encode` takes for `ty`.

    Integers accept int, Decimal with no fractional part, or decimal strings; address/bytesN take
    bytes of exactly the right length; tuples take dicts (struct rows) or sequences.
    """
    if v is None:
        raise ValueError(f"cannot encode NULL as {ty}")
    k = ty.kind
    if k in ("uint", "int"):
        if isinstance(v, bool) or isinstance(v, float | bytes):
            raise ValueError(f"cannot convert {type(v).__name__} to solidity type {ty}")
        if isinstance(v, str):
            v = decimal.Decimal(v.strip())
        if isinstance(v, decimal.Decimal):
            if v != v.to_integral_value():
                raise ValueError(f"cannot convert non-integer {v} to solidity type {ty}")
            v = int(v)
        lo, hi = (
            (-(2 ** (ty.size - 1)), 2 ** (ty.size - 1) - 1) if k == "int" else (0, 2**ty.size - 1)
        )
        if not lo <= v <= hi:
            raise ValueError(f"cannot convert {v} to solidity {ty}: not in [{lo}, {hi}]")
        return v
    if k == "address":
        if not isinstance(v, bytes) or len(v) != 20:
            raise ValueError("cannot convert value to solidity address, expected 20 bytes")
        return "0x" + v.hex()
    if k == "fbytes":
        if not isinstance(v, bytes) or len(v) != ty.size:
            raise ValueError(f"cannot convert value to solidity bytes{ty.size}")
        return v
    if k == "bytes":
        if not isinstance(v, bytes):
            raise ValueError("cannot convert value to solidity bytes")
        return v
    if k == "string":
        if not isinstance(v, str):
            raise ValueError("cannot convert value to solidity string")
        return v
    if k == "bool":
        if not isinstance(v, bool):
            raise ValueError("cannot convert value to solidity bool")
        return v
    if k in ("array", "farray"):
        if k == "farray" and len(v) != ty.size:
            raise ValueError(f"cannot convert list of size {len(v)} to solidity type {ty}")
        return [to_abi_value(ty.elem, x) for x in v]
    if k == "tuple":
        vals = list(v.values()) if isinstance(v, dict) else list(v)
        if len(vals) != len(ty.components):
            raise ValueError(f"cannot convert struct of size {len(vals)} to solidity type {ty}")
        return tuple(to_abi_value(c, x) for c, x in zip(ty.components, vals, strict=True))
    raise ValueError(f"cannot encode solidity type {ty}")


# Arrow type an encoder argument is cast to before reaching Python (see udfs.py)
def encode_input_cast(ty: SolType) -> str | None:
    """The `arrow_cast` target for an encoder argument of Solidity type `ty`, or None for no cast."""
    k = ty.kind
    if k in ("uint", "int", "string"):
        return "Utf8"
    if k in ("address", "fbytes", "bytes"):
        return "Binary"
    if k == "bool":
        return "Boolean"
    return None


def encode_input_type(ty: SolType) -> pa.DataType:
    """The Arrow type the encoder UDF declares for an argument of Solidity type `ty`."""
    cast = encode_input_cast(ty)
    if cast is None:
        return arrow_type(ty)
    return {"Utf8": pa.string(), "Binary": pa.binary(), "Boolean": pa.bool_()}[cast]
