"""The query-model path's Flight pieces: the command Amp answers, and counting a DoGet stream.

ADBC drops Flight `app_metadata`, where Amp puts the block ranges a result covers
(`{"ranges": [...], "ranges_complete": bool}` on every batch), so query models read the stream
with pyarrow.flight (AmpTransport.run_counting): batches are counted as they arrive and handed to
a sink (an export) if there is one, never collected. Measured at the same speed as ADBC's
`fetch_arrow_table` (benchmarks/bench_adapter.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa
import pyarrow.flight as fl

STATEMENT_QUERY_TYPE_URL = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def statement_query_command(sql: str) -> bytes:
    """`Any{type_url, value=CommandStatementQuery{query}}` as protobuf bytes."""
    inner = _bytes_field(1, sql.encode())
    return _bytes_field(1, STATEMENT_QUERY_TYPE_URL) + _bytes_field(2, inner)


@dataclass
class QueryResult:
    rows: int = 0
    bytes: int = 0
    block_ranges: list[dict] = field(default_factory=list)
    ranges_complete: bool = False


class BatchSink(Protocol):
    """Where a query model's batches go as they arrive (e.g. export.ParquetExport).
    `begin` is called once per attempt, before any batch (a retried query starts over)."""

    def begin(self, schema: pa.Schema) -> None: ...

    def write(self, batch: pa.RecordBatch) -> None: ...


class TableSink:
    """A sink that keeps a (small) result whole: the monitor's probe queries."""

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.batches: list[pa.RecordBatch] = []

    def begin(self, schema: pa.Schema) -> None:
        self.schema, self.batches = schema, []

    def write(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self.batches, schema=self.schema)


def _parse_metadata(raw: bytes, result: QueryResult) -> None:
    try:
        meta = json.loads(raw)
    except ValueError:
        return
    if isinstance(meta, dict) and isinstance(meta.get("ranges"), list):
        if meta["ranges"] or not result.block_ranges:
            result.block_ranges = meta["ranges"]
        result.ranges_complete = bool(meta.get("ranges_complete")) or result.ranges_complete


def count_endpoint(
    reader: fl.FlightStreamReader, result: QueryResult, sink: BatchSink | None = None
) -> None:
    """Add one DoGet stream's rows, bytes and block ranges to `result`, its batches to `sink`."""
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            return
        if chunk.data is not None:
            result.rows += chunk.data.num_rows
            result.bytes += chunk.data.nbytes
            if sink is not None:
                sink.write(chunk.data)
        if chunk.app_metadata is not None:
            _parse_metadata(chunk.app_metadata.to_pybytes(), result)
