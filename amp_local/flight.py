"""Arrow Flight with exactly Amp's surface (PROTOCOL §1.3-1.8), on grpcio.

Only `GetFlightInfo(Any<CommandStatementQuery>)` and `DoGet` exist; every other RPC is answered
UNIMPLEMENTED by gRPC itself because it is not registered. grpcio (rather than pyarrow's Flight server)
lets errors carry Amp's exact status codes and messages, without Python tracebacks appended.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from concurrent import futures

import grpc
import pyarrow as pa

from amp_local import protowire as pw
from amp_local.datasets import BlockRange
from amp_local.engine import QueryEngine
from amp_local.errors import (
    INTERNAL_ERROR_LOG,
    INTERNAL_ERROR_MESSAGE,
    AmpError,
    GrpcCode,
    caused_by,
)
from amp_local.streaming import StreamingQuery

log = logging.getLogger("amp_local.flight")

SERVICE = "arrow.flight.protocol.FlightService"
MAX_MESSAGE_BYTES = 2 * 1024 * 1024  # GRPC_TARGET_MAX_FLIGHT_SIZE_BYTES
HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
STATUS = {
    GrpcCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    GrpcCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    GrpcCode.INTERNAL: grpc.StatusCode.INTERNAL,
    GrpcCode.UNIMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
    GrpcCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    GrpcCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def _identity(data: bytes) -> bytes:
    return data


def ipc_messages(schema: pa.Schema, batch: pa.RecordBatch | None) -> list[tuple[bytes, bytes]]:
    """(flatbuffer header, body) of each IPC message needed to send `batch` (or just the schema)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        if batch is not None:
            writer.write_batch(batch)
    reader = pa.ipc.MessageReader.open_stream(sink.getvalue())
    out = []
    for message in reader:
        out.append(
            (message.metadata.to_pybytes(), message.body.to_pybytes() if message.body else b"")
        )
    return out


def slice_batch(
    batch: pa.RecordBatch, max_bytes: int = MAX_MESSAGE_BYTES
) -> Iterator[pa.RecordBatch]:
    """Split a batch into slices of roughly `max_bytes`, as Amp does for large batches."""
    size = batch.nbytes
    if size <= max_bytes or batch.num_rows <= 1:
        yield batch
        return
    rows = max(1, batch.num_rows * max_bytes // size)
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def schema_frame(schema: pa.Schema) -> bytes:
    """The FlightData message that opens a DoGet stream: the result schema."""
    return pw.encode_flight_data(*ipc_messages(schema, None)[0])


def batch_frames(schema: pa.Schema, batch: pa.RecordBatch | None, meta: bytes) -> Iterator[bytes]:
    """FlightData messages for `batch` (None: an empty batch), sliced under 2 MiB, each with `meta`."""
    if batch is None:
        batch = pa.RecordBatch.from_pylist([], schema=schema)
    for piece in slice_batch(batch):
        for header, body in ipc_messages(schema, piece)[1:]:
            yield pw.encode_flight_data(header, body, meta)


def _header(context: grpc.ServicerContext, name: str) -> str | None:
    """A request header's value (names are case-insensitive)."""
    return next((v for k, v in context.invocation_metadata() if k.lower() == name), None)


def app_metadata(ranges: list[BlockRange], complete: bool) -> bytes:
    return json.dumps(
        {"ranges": [r.to_json() for r in ranges], "ranges_complete": complete},
        separators=(",", ":"),
    ).encode()


class FlightService:
    """The two RPCs Amp answers; `token` (if set) must arrive as `authorization: Bearer <token>`."""

    def __init__(self, engine: QueryEngine, token: str | None = None) -> None:
        self.engine = engine
        self.token = token

    # --- helpers ------------------------------------------------------------------------------

    def _abort(self, context: grpc.ServicerContext, error: AmpError | None) -> None:
        """End the call with Amp's status for `error`, or INTERNAL for an amp_local bug (logged
        with its traceback; never sent: no Python text reaches a client, no status is UNKNOWN)."""
        if error is None:
            context.abort(grpc.StatusCode.INTERNAL, INTERNAL_ERROR_MESSAGE)
        log.info("query failed: %s %s", error.error_code, error.message)
        context.abort(STATUS[error.grpc_code], error.message)

    def _check_auth(self, context: grpc.ServicerContext) -> None:
        if self.token is None:
            return
        scheme, _, token = (_header(context, "authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.token:
            raise AmpError(
                "UNAUTHENTICATED",
                "missing or invalid bearer token: send 'authorization: Bearer <token>'",
            )

    @staticmethod
    def _stream_header(context: grpc.ServicerContext) -> bool | None:
        """`amp-stream: true|1` forces streaming, `false|0` batch; anything else is ignored."""
        value = (_header(context, "amp-stream") or "").strip().lower()
        return {"true": True, "1": True, "false": False, "0": False}.get(value)

    @staticmethod
    def _resume_header(context: grpc.ServicerContext) -> dict | None:
        """`amp-resume: {"<network>": {"number": N, "hash": "0x…"}}`. Like Amp, a cursor that
        does not parse into that shape (JSON, non-negative number, 32-byte hash) is ignored."""
        value = _header(context, "amp-resume")
        if value is None:
            return None
        try:
            cursor = json.loads(value)
        except ValueError:
            return None
        valid = isinstance(cursor, dict) and all(
            isinstance(pos, dict)
            and type(pos.get("number")) is int
            and pos["number"] >= 0
            and isinstance(pos.get("hash"), str)
            and HASH_RE.match(pos["hash"])
            for pos in cursor.values()
        )
        return cursor if valid else None

    # --- RPCs ---------------------------------------------------------------------------------

    def get_flight_info(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            return self._flight_info(request, context)
        except AmpError as error:
            failure = error
        except Exception:
            log.exception(INTERNAL_ERROR_LOG)
            failure = None
        self._abort(context, failure)  # raises
        return b""

    def _flight_info(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self._check_auth(context)
        try:
            descriptor = pw.FlightDescriptor.decode(request)
        except (pw.DecodeError, UnicodeDecodeError) as exc:
            raise AmpError("PB_DECODE_ERROR", f"ProtocolBuffers decoding error: {exc}") from None
        if descriptor.type != pw.DESCRIPTOR_TYPE_CMD:
            raise AmpError(
                "UNSUPPORTED_FLIGHT_DESCRIPTOR_TYPE",
                f"unsupported flight descriptor type: {descriptor.type}",
            )
        try:
            type_url, value = pw.decode_any(descriptor.cmd)
        except (pw.DecodeError, UnicodeDecodeError) as exc:
            raise AmpError("PB_DECODE_ERROR", f"ProtocolBuffers decoding error: {exc}") from None
        if type_url != pw.STATEMENT_QUERY_TYPE_URL:
            raise AmpError(
                "UNSUPPORTED_FLIGHT_DESCRIPTOR_COMMAND",
                f"unsupported flight descriptor command: {type_url}",
            )
        try:
            sql = pw.decode_statement_query(value)
        except (pw.DecodeError, UnicodeDecodeError) as exc:
            raise AmpError("PB_DECODE_ERROR", f"ProtocolBuffers decoding error: {exc}") from None
        planned = self.engine.plan(sql, self._stream_header(context))
        ticket = {"query": sql, "stream": planned.streaming}
        if planned.streaming:
            ticket["resume"] = self._resume_header(context)
        ticket = json.dumps(ticket).encode()
        return pw.encode_flight_info(planned.schema.serialize().to_pybytes(), request, ticket)

    def do_get(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        try:
            yield from self._do_get(request, context)
            return
        except AmpError as error:
            failure = error
        except Exception:
            log.exception(INTERNAL_ERROR_LOG)
            failure = None
        self._abort(context, failure)

    def _do_get(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        self._check_auth(context)
        try:
            ticket = json.loads(pw.decode_ticket(request))
            sql, stream = ticket["query"], bool(ticket["stream"])
        except (ValueError, KeyError, TypeError, pw.DecodeError) as exc:
            raise AmpError(
                "TICKET_DECODING_ERROR",
                caused_by(
                    "ticket decoding error",
                    f"Error during planning: Failed to deserialize remote plan: {exc}",
                ),
            ) from None
        planned = self.engine.plan(sql, stream)
        if planned.streaming:
            yield from self._stream(planned, ticket.get("resume"), context)
            return
        ranges, batches = self.engine.execute(planned)
        schema = planned.schema
        data_meta = app_metadata(ranges, complete=False)
        yield schema_frame(schema)
        sent = False
        for batch in batches:
            if batch.num_rows or not sent:  # an empty result still sends one empty batch
                yield from batch_frames(schema, batch, data_meta)
                sent = True
        if not sent:
            yield from batch_frames(schema, None, data_meta)
        yield from batch_frames(schema, None, app_metadata(ranges, complete=True))

    def _stream(
        self, planned, resume: dict | None, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        query = StreamingQuery(self.engine, planned, resume, is_active=context.is_active)
        yield schema_frame(planned.schema)
        for event in query.events():
            meta = app_metadata(event.ranges, complete=event.complete)
            yield from batch_frames(planned.schema, event.batch, meta)


def serve_flight(
    engine: QueryEngine, host: str, port: int, token: str | None = None, workers: int = 128
) -> tuple[grpc.Server, int]:
    """Start the Flight gRPC server; returns it and the bound port."""
    service = FlightService(engine, token)
    handlers = {
        "GetFlightInfo": grpc.unary_unary_rpc_method_handler(
            service.get_flight_info, request_deserializer=_identity, response_serializer=_identity
        ),
        "DoGet": grpc.unary_stream_rpc_method_handler(
            service.do_get, request_deserializer=_identity, response_serializer=_identity
        ),
    }
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="amp-flight"),
        options=[
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.so_reuseport", 0),  # a port in use is an error, not a second listener
        ],
    )
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise OSError(
            f"could not bind the Flight server to {host}:{port}: the port is in use or the "
            "address is not local; choose another --flight-port (0 picks a free one)"
        )
    server.start()
    return server, bound
