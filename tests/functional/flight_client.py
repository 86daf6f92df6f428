"""A raw pyarrow.flight client for the tests: what Amp's Flight surface sends, chunk by chunk,
including the `app_metadata` that ADBC hides."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.flight as flight

from amp_local import protowire as pw


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
