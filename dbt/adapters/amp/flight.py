"""The `query` materialization's path: plain Arrow Flight (pyarrow.flight) instead of ADBC.

ADBC drops Flight `app_metadata`, where Amp puts the block ranges a result covers
(`{"ranges": [...], "ranges_complete": bool}` on every batch). This module sends the same two RPCs
(GetFlightInfo(CommandStatementQuery) + DoGet), streams the batches, counts rows and bytes, and keeps
the ranges. Measured at the same speed as ADBC's `fetch_arrow_table` (benchmarks/bench_adapter.py).
Errors are re-raised as ADBC-shaped exceptions so one translator serves both paths.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Protocol

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as fl
from adbc_driver_manager import AdbcStatusCode

from dbt.adapters.amp.credentials import TransportSettings, transport_of

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


# pyarrow.flight error class -> (ADBC exception class, status, gRPC status name)
_ERRORS = [
    (
        fl.FlightUnauthenticatedError,
        adbc_driver_manager.ProgrammingError,
        AdbcStatusCode.UNAUTHENTICATED,
        "UNAUTHENTICATED",
    ),
    (
        fl.FlightUnauthorizedError,
        adbc_driver_manager.ProgrammingError,
        AdbcStatusCode.UNAUTHORIZED,
        "PERMISSION_DENIED",
    ),
    (
        fl.FlightUnavailableError,
        adbc_driver_manager.OperationalError,
        AdbcStatusCode.IO,
        "UNAVAILABLE",
    ),
    (
        fl.FlightTimedOutError,
        adbc_driver_manager.OperationalError,
        AdbcStatusCode.TIMEOUT,
        "DEADLINE_EXCEEDED",
    ),
    (
        fl.FlightCancelledError,
        adbc_driver_manager.OperationalError,
        AdbcStatusCode.CANCELLED,
        "CANCELLED",
    ),
    (
        fl.FlightInternalError,
        adbc_driver_manager.InternalError,
        AdbcStatusCode.INTERNAL,
        "INTERNAL",
    ),
]


def _as_adbc_error(exc: Exception) -> Exception:
    message = str(exc).split(". gRPC client debug context:")[0].split(". Detail:")[0].strip()
    if "with message: " in message:
        message = message.split("with message: ", 1)[1]
    elif message.startswith(("Flight returned ", "gRPC returned ")):
        message = message.split(": ", 1)[-1]
    for flight_cls, adbc_cls, status, code in _ERRORS:
        if isinstance(exc, flight_cls):
            return adbc_cls(f"{code}: [FlightSQL] {message}", status_code=status)
    if isinstance(exc, pa.ArrowNotImplementedError):
        return adbc_driver_manager.NotSupportedError(
            f"UNIMPLEMENTED: [FlightSQL] {message}", status_code=AdbcStatusCode.NOT_IMPLEMENTED
        )
    if isinstance(exc, (fl.FlightError, pa.ArrowInvalid, pa.ArrowKeyError)):
        return adbc_driver_manager.ProgrammingError(
            f"INVALID_ARGUMENT: [FlightSQL] {message}", status_code=AdbcStatusCode.INVALID_ARGUMENT
        )
    return exc


def _client(settings: TransportSettings) -> fl.FlightClient:
    kwargs: dict = {}
    if settings.use_tls:
        kwargs["disable_server_verification"] = settings.tls_skip_verify
        if settings.tls_root_certs:
            kwargs["tls_root_certs"] = settings.root_certs_pem()
        if settings.tls_override_hostname:
            kwargs["override_hostname"] = settings.tls_override_hostname
    location = settings.query_url.replace("grpc://", "grpc+tcp://", 1)
    return fl.FlightClient(location, **kwargs)


def _call_options(settings: TransportSettings) -> fl.FlightCallOptions:
    headers = [(k.encode(), v.encode()) for k, v in settings.headers]
    if settings.token:
        headers.append((b"authorization", f"Bearer {settings.token}".encode()))
    return fl.FlightCallOptions(headers=headers, timeout=settings.timeout)


def _parse_metadata(raw: bytes, result: QueryResult) -> None:
    try:
        meta = json.loads(raw)
    except ValueError:
        return
    if isinstance(meta, dict) and isinstance(meta.get("ranges"), list):
        if meta["ranges"] or not result.block_ranges:
            result.block_ranges = meta["ranges"]
        result.ranges_complete = bool(meta.get("ranges_complete")) or result.ranges_complete


class FlightSide:
    """The pyarrow.flight client of one dbt connection, and the streams it is reading (for
    cancel). Kept on the dbt `Connection`, so a query model never opens the ADBC handle."""

    def __init__(self, settings: TransportSettings) -> None:
        self.client = _client(settings)
        self.options = _call_options(settings)
        self.readers: set = set()
        self.lock = threading.Lock()

    @classmethod
    def of(cls, connection) -> FlightSide:
        side = getattr(connection, "_amp_flight", None)
        if side is None:
            side = cls(transport_of(connection))
            connection._amp_flight = side
        return side

    def track_reader(self, reader) -> None:
        with self.lock:
            self.readers.add(reader)

    def untrack_reader(self, reader) -> None:
        with self.lock:
            self.readers.discard(reader)

    def cancel(self) -> None:
        with self.lock:
            readers = list(self.readers)
        for reader in readers:
            try:
                reader.cancel()
            except Exception:  # noqa: BLE001 - best effort on Ctrl-C
                pass

    def close(self) -> None:
        self.cancel()
        self.client.close()


def run_counting(connection, sql: str, sink: BatchSink | None = None) -> QueryResult:
    """GetFlightInfo + DoGet for `sql`; batches are counted as they arrive and handed to `sink`
    (if any), never collected."""
    return run_on(FlightSide.of(connection), sql, sink)


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


def fetch_query(side: FlightSide, sql: str) -> tuple[pa.Table, QueryResult]:
    """A small result kept whole, with the block ranges Amp reported for it."""
    sink = TableSink()
    result = run_on(side, sql, sink)
    return sink.table(), result


def run_on(side: FlightSide, sql: str, sink: BatchSink | None = None) -> QueryResult:
    """`run_counting` on a given Flight client (the monitor has no dbt connection)."""
    handle = side
    client, options = handle.client, handle.options
    result = QueryResult()
    try:
        info = client.get_flight_info(
            fl.FlightDescriptor.for_command(statement_query_command(sql)), options
        )
        for index, endpoint in enumerate(info.endpoints):
            reader = client.do_get(endpoint.ticket, options)
            if sink is not None and index == 0:
                sink.begin(reader.schema)
            handle.track_reader(reader)
            try:
                while True:
                    try:
                        chunk = reader.read_chunk()
                    except StopIteration:
                        break
                    if chunk.data is not None:
                        result.rows += chunk.data.num_rows
                        result.bytes += chunk.data.nbytes
                        if sink is not None:
                            sink.write(chunk.data)
                    if chunk.app_metadata is not None:
                        _parse_metadata(chunk.app_metadata.to_pybytes(), result)
            finally:
                handle.untrack_reader(reader)
        if sink is not None and not info.endpoints:
            sink.begin(info.schema)
    except (fl.FlightError, pa.ArrowException) as exc:
        raise _as_adbc_error(exc) from exc
    return result
