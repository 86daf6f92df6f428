"""Vectorized encoding: numpy matrices and limbs → ABI words and Arrow arrays, without a Python loop
per row (the generator writes millions of rows)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from eth_hash.auto import keccak

from amp_local.schemas import TIMESTAMP

NANOS = 1_000_000_000


def bloom_bits(item: bytes) -> tuple[int, int, int]:
    """The 3 bits of a logs bloom an address or topic sets (yellow paper M3:2048)."""
    h = keccak(item)
    return tuple(((h[i] << 8) | h[i + 1]) & 2047 for i in (0, 2, 4))  # type: ignore[return-value]


def mul_u64(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full 128-bit product of two uint64 arrays → (lo, hi) uint64 limbs."""
    m32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    a = a.astype(np.uint64)
    b = b.astype(np.uint64)
    a_lo, a_hi = a & m32, a >> s32
    b_lo, b_hi = b & m32, b >> s32
    ll, lh, hl, hh = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (ll >> s32) + (lh & m32) + (hl & m32)
    lo = (ll & m32) | ((mid & m32) << s32)
    hi = hh + (lh >> s32) + (hl >> s32) + (mid >> s32)
    return lo, hi


def u64_be(x: np.ndarray) -> np.ndarray:
    """uint64 values as (n, 8) big-endian bytes."""
    return x.astype(">u8").view(np.uint8).reshape(-1, 8)


def uint256_words(
    lo: np.ndarray, hi: np.ndarray | None = None, all_ones: np.ndarray | None = None
) -> np.ndarray:
    """uint256 ABI words (n, 32) from 128-bit limbs; rows where `all_ones` is set are 2**256-1."""
    n = len(lo)
    words = np.zeros((n, 32), np.uint8)
    if hi is not None:
        words[:, 16:24] = u64_be(hi)
    words[:, 24:32] = u64_be(lo)
    if all_ones is not None:
        words[all_ones] = 0xFF
    return words


def address_words(addresses: np.ndarray) -> np.ndarray:
    """(n, 20) addresses left-padded to (n, 32) ABI words."""
    words = np.zeros((len(addresses), 32), np.uint8)
    words[:, 12:] = addresses
    return words


def _validity(valid: np.ndarray | None, n: int) -> tuple[pa.Buffer | None, int]:
    if valid is None or valid.all():
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little").tobytes()), int(n - valid.sum())


def fixed_binary(matrix: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """FixedSizeBinary(width) from an (n, width) byte matrix; NULL where not `valid`."""
    matrix = np.ascontiguousarray(matrix, dtype=np.uint8)
    n = matrix.shape[0]
    validity, nulls = _validity(valid, n)
    buffers = [validity, pa.py_buffer(matrix.tobytes())]
    return pa.Array.from_buffers(pa.binary(width), n, buffers, null_count=nulls)


def binary(matrix: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Variable-length binary array from row-prefixes `matrix[i, :lengths[i]]`."""
    lengths = lengths.astype(np.int64)
    if matrix.shape[1]:
        data = matrix[np.arange(matrix.shape[1])[None, :] < lengths[:, None]]
    else:
        data = np.zeros(0, np.uint8)
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())]
    )


def constant_binary(value: bytes, n: int) -> pa.Array:
    matrix = (
        np.tile(np.frombuffer(value, np.uint8), (n, 1)) if value else np.zeros((n, 0), np.uint8)
    )
    return binary(matrix, np.full(n, len(value)))


def decimal128(
    lo: np.ndarray, hi: np.ndarray | None = None, valid: np.ndarray | None = None
) -> pa.Array:
    """Decimal128(38, 0) from 128-bit limbs; NULL where not `valid`."""
    n = len(lo)
    hi = np.zeros(n, np.uint64) if hi is None else hi
    limbs = np.empty((n, 2), "<u8")
    limbs[:, 0] = lo
    limbs[:, 1] = hi
    validity, nulls = _validity(valid, n)
    buffers = [validity, pa.py_buffer(limbs.tobytes())]
    return pa.Array.from_buffers(pa.decimal128(38, 0), n, buffers, null_count=nulls)


def timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * NANOS, type=pa.int64()).view(TIMESTAMP)


_ZEROS = pa.array(["0" * k for k in range(40)])


def decimal_strings(mantissa: np.ndarray, exponent: np.ndarray) -> pa.Array:
    """Decimal strings of mantissa * 10**exponent (mantissa 0 → "0")."""
    exponent = np.where(mantissa == 0, 0, exponent)
    return pc.binary_join_element_wise(
        pc.cast(pa.array(mantissa.astype(np.uint64)), pa.string()),
        _ZEROS.take(pa.array(exponent)),
        "",
    )


def cumcount(groups: np.ndarray) -> np.ndarray:
    """Occurrence number of each element within its group (stable, in array order)."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    start = np.r_[True, g[1:] != g[:-1]]
    idx = np.arange(n)
    first = np.maximum.accumulate(np.where(start, idx, 0))
    out = np.empty(n, np.int64)
    out[order] = idx - first
    return out


def rank_within(counts: np.ndarray) -> np.ndarray:
    """For `np.repeat(arange(len(counts)), counts)`: position of each element within its group."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total) - np.repeat(starts, counts)
