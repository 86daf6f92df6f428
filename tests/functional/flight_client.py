"""A raw pyarrow.flight client for the tests: what Amp's Flight surface sends, chunk by chunk,
including the `app_metadata` that ADBC hides.

`connect()` returns a client that checks every error the server sends, for the whole suite: no gRPC
`UNKNOWN` status (an unhandled exception in the server) and no Python or DataFusion-Python internals
(tracebacks, `PyErr`, the hashed per-call UDF variant names) in the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import NamedTuple

import pyarrow as pa
import pyarrow.flight as flight

from amp_local import protowire as pw

_STATUS_RE = re.compile(
    r"Flight returned (?P<kind>[a-z ]+?) error, with message: (?P<message>.*?)"
    r"(?:\. gRPC client debug context: .*)?\Z",
    re.S,
)
LEAKED_INTERNALS = re.compile(
    r"Traceback|PyErr|Exception calling application|Exception iterating|Python|"
    r"\b[a-z_]+__[0-9a-f]{16}\b|Converting Expr::|DataFusion error: |\.py\b|datafusion\.|"
    r"pyarrow\.|amp_local\."
)


class Status(NamedTuple):
    """A gRPC status as the client saw it."""

    code: str  # INVALID_ARGUMENT, INTERNAL, …
    message: str


def flight_status(error: BaseException) -> Status:
    """The gRPC code and message of a pyarrow Flight error (pyarrow words them its own way)."""
    match = _STATUS_RE.search(str(error))
    if match is None:
        return Status("UNKNOWN", str(error))
    return Status(match["kind"].upper().replace(" ", "_"), match["message"])


def check_status(error: BaseException) -> Status:
    """Fail the test if the server answered UNKNOWN or leaked internals; else the status."""
    status = flight_status(error)
    assert status.code != "UNKNOWN", f"gRPC UNKNOWN from amp_local: {error}"
    leaked = LEAKED_INTERNALS.search(status.message)
    assert leaked is None, f"internals ({leaked.group(0)!r}) in a status message: {status.message}"
    return status


class _Checked:
    """Calls through to `target`, checking every Arrow/Flight error on the way out."""

    def __init__(self, target) -> None:
        self._target = target

    def __getattr__(self, name: str):
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            try:
                result = attribute(*args, **kwargs)
            except pa.ArrowException as error:
                check_status(error)
                raise
            return _Checked(result) if name == "do_get" else result

        return call

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._target.close()


def connect(url: str) -> flight.FlightClient:
    """A Flight client whose errors are checked (see the module docstring)."""
    return _Checked(flight.connect(url))


def statement_descriptor(sql: str) -> flight.FlightDescriptor:
    command = pw.encode_any(pw.STATEMENT_QUERY_TYPE_URL, pw.encode_statement_query(sql))
    return flight.FlightDescriptor.for_command(command)


def chunks(
    client: flight.FlightClient, sql: str, headers=(), timeout: float | None = None
) -> Iterator[tuple[pa.RecordBatch | None, dict]]:
    """(batch, decoded app_metadata) for each message of GetFlightInfo + DoGet on `sql`.
    Closing the generator early cancels the stream."""
    options = flight.FlightCallOptions(headers=list(headers), timeout=timeout)
    info = client.get_flight_info(statement_descriptor(sql), options)
    assert len(info.endpoints) == 1
    assert info.total_records == -1 and info.total_bytes == -1
    reader = client.do_get(info.endpoints[0].ticket, options)
    try:
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                return
            yield chunk.data, json.loads(chunk.app_metadata.to_pybytes())
    finally:
        reader.cancel()
