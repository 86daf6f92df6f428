"""Amp's JSON Lines transport (PROTOCOL §1.9): `POST /` with raw SQL, one JSON object per row.

Encoding follows arrow-json's `LineDelimitedWriter` defaults as Amp uses them: NULL keys omitted,
binary as lowercase hex without `0x`, integers and decimals as bare JSON numbers, timestamps as
ISO-8601, structs as objects, lists as arrays. Batch only: `SETTINGS stream = true` is refused.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa

from amp_local.engine import QueryEngine, split_settings
from amp_local.errors import INTERNAL_ERROR_LOG, INTERNAL_ERROR_MESSAGE, AmpError
from amp_local.http_server import serve_http

log = logging.getLogger("amp_local.jsonl")
STREAMING_NOT_SUPPORTED = (
    "Streaming queries (SETTINGS stream = true) are not supported on the JSONL endpoint. "
    "Please use the Arrow Flight endpoint instead."
)


def render(value) -> str:
    """One value as arrow-json writes it: JSON text, decimals unquoted, bytes as bare hex."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return json.dumps(value.hex())
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return json.dumps(value.isoformat())
    if isinstance(value, dt.timedelta):
        return json.dumps(str(value))
    if isinstance(value, dict):
        return render_object(value)
    if isinstance(value, list):
        return "[" + ",".join(render(v) for v in value) + "]"
    return json.dumps(value)


def render_object(row: dict) -> str:
    """An object with its NULL keys omitted (arrow-json's default)."""
    return (
        "{"
        + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in row.items() if v is not None)
        + "}"
    )


def ndjson_lines(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    for batch in batches:
        for row in batch.to_pylist():
            yield (render_object(row) + "\n").encode()


class _Handler(BaseHTTPRequestHandler):
    engine: QueryEngine
    protocol_version = "HTTP/1.1"
    # headers and body go out as two writes: with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every keep-alive request
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # route http.server's logging through ours
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send_json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/health":
            self._send_json(200, {})
        else:
            self._send_json(404, {"error_code": "NOT_FOUND", "error_message": self.path})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/":
            self._send_json(404, {"error_code": "NOT_FOUND", "error_message": self.path})
            return
        length = int(self.headers.get("content-length") or 0)
        sql = self.rfile.read(length).decode("utf-8", "replace")
        try:
            if not sql.strip():
                raise AmpError("INVALID_SQL_STRING", "invalid SQL string: query is empty")
            if split_settings(sql)[1]:
                self._send_json(
                    400,
                    {
                        "error_code": "STREAMING_NOT_SUPPORTED",
                        "error_message": STREAMING_NOT_SUPPORTED,
                    },
                )
                return
            planned = self.engine.plan(sql, stream_header=False)
            _, batches = self.engine.execute(planned)
            lines = ndjson_lines(batches)
            first = next(lines, None)  # errors before the first row still get a status code
        except AmpError as error:
            self._send_json(error.http_status, error.to_json())
            return
        except Exception:  # a bug in amp_local: logged with its traceback, never sent
            log.exception(INTERNAL_ERROR_LOG)
            self._send_json(
                500, {"error_code": "INTERNAL", "error_message": INTERNAL_ERROR_MESSAGE}
            )
            return
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for line in _chain(first, lines):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        except Exception as error:  # mid-stream: the status is already 200; end without the
            if isinstance(error, AmpError):  # terminating chunk (a truncated body)
                log.info("JSONL stream failed: %s", error)
            else:
                log.exception(INTERNAL_ERROR_LOG)
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")


def _chain(first: bytes | None, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first is not None:
        yield first
        yield from rest


def serve_jsonl(engine: QueryEngine, host: str, port: int) -> tuple[ThreadingHTTPServer, int]:
    """Start the JSON Lines HTTP server in a daemon thread; returns it and the bound port."""
    handler = type("JsonlHandler", (_Handler,), {"engine": engine})
    return serve_http(handler, host, port, "JSONL", "--jsonl-port")
