"""The few protobuf messages of Arrow Flight / Flight SQL that Amp's surface needs, encoded by hand.

Generated protobuf code would tie us to a protobuf runtime version (dbt-adapters caps protobuf < 7),
and Amp's surface needs only a handful of flat messages, so a wire-format codec is the smaller part.
Field numbers follow Arrow's `Flight.proto` and `FlightSql.proto`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

STATEMENT_QUERY_TYPE_URL = "type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
DESCRIPTOR_TYPE_PATH = 1
DESCRIPTOR_TYPE_CMD = 2


class DecodeError(ValueError):
    """Bytes that are not a valid protobuf message of the expected shape."""


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field number, value) pairs; length-delimited values as bytes, varints as int."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise DecodeError("invalid field number 0")
        if wire_type == 0:
            value, pos = _read_varint(data, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise DecodeError("truncated length-delimited field")
            yield number, bytes(data[pos : pos + length])
            pos += length
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire_type}")
        if pos > len(data):
            raise DecodeError("truncated fixed-width field")


def field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


@dataclass
class FlightDescriptor:
    type: int = 0
    cmd: bytes = b""
    path: tuple[str, ...] = ()

    @classmethod
    def decode(cls, data: bytes) -> FlightDescriptor:
        desc = cls()
        path = []
        for number, value in fields(data):
            if number == 1 and isinstance(value, int):
                desc.type = value
            elif number == 2 and isinstance(value, bytes):
                desc.cmd = value
            elif number == 3 and isinstance(value, bytes):
                path.append(value.decode("utf-8", "replace"))
        desc.path = tuple(path)
        return desc

    def encode(self) -> bytes:
        out = field_varint(1, self.type) if self.type else b""
        if self.cmd:
            out += field_bytes(2, self.cmd)
        for p in self.path:
            out += field_bytes(3, p.encode())
        return out


def decode_any(data: bytes) -> tuple[str, bytes]:
    """`google.protobuf.Any` → (type_url, value)."""
    type_url, value = "", b""
    for number, item in fields(data):
        if not isinstance(item, bytes):
            raise DecodeError("Any fields must be length-delimited")
        if number == 1:
            type_url = item.decode("utf-8")
        elif number == 2:
            value = item
    if not type_url:
        raise DecodeError("Any without type_url")
    return type_url, value


def encode_any(type_url: str, value: bytes) -> bytes:
    return field_bytes(1, type_url.encode()) + field_bytes(2, value)


def decode_statement_query(data: bytes) -> str:
    """`CommandStatementQuery` → its `query` (transaction_id is ignored, like Amp)."""
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            return value.decode("utf-8")
    return ""


def encode_statement_query(query: str) -> bytes:
    return field_bytes(1, query.encode())


def decode_ticket(data: bytes) -> bytes:
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            return value
    return b""


def encode_flight_info(schema_ipc: bytes, descriptor: bytes, ticket: bytes) -> bytes:
    """FlightInfo with one endpoint (no locations: redeem on the same server), totals -1."""
    endpoint = field_bytes(1, field_bytes(1, ticket))
    return (
        field_bytes(1, schema_ipc)
        + field_bytes(2, descriptor)
        + field_bytes(3, endpoint)
        + field_varint(4, -1)
        + field_varint(5, -1)
    )


def encode_flight_data(header: bytes, body: bytes, app_metadata: bytes = b"") -> bytes:
    out = field_bytes(2, header)
    if app_metadata:
        out += field_bytes(3, app_metadata)
    if body:
        out += field_bytes(1000, body)
    return out
