"""An error from Amp as one structured value: gRPC status code, Amp's message, its cause chain.

Amp sends `<error> | Caused by: <cause1> -> <cause2>` as the gRPC status message (PROTOCOL §1.8).
The two client libraries of a connection report it differently, and each is read here once, at the
transport boundary: the ADBC driver (a status and the gRPC code as `vendor_code`, the message
between its `[FlightSQL] ` tag and its `(<Code>; <call>)` trailer), its C result stream (a plain
OSError: tag, message, trailer) and pyarrow.flight (one exception class per status, the message
after `with message: `). Everything above the transport sees only `AmpServerError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as fl

CAUSED_BY = " | Caused by: "
CAUSE_SEPARATOR = " -> "
# gRPC status codes by number (the ADBC Flight SQL driver's `vendor_code`)
GRPC_CODES = (
    "OK CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED NOT_FOUND ALREADY_EXISTS "
    "PERMISSION_DENIED RESOURCE_EXHAUSTED FAILED_PRECONDITION ABORTED OUT_OF_RANGE UNIMPLEMENTED "
    "INTERNAL UNAVAILABLE DATA_LOSS UNAUTHENTICATED"
).split()
# ADBC statuses, for driver errors without a gRPC code (connection setup, client-side timeouts)
_ADBC_TO_GRPC = {
    adbc_driver_manager.AdbcStatusCode.CANCELLED: "CANCELLED",
    adbc_driver_manager.AdbcStatusCode.TIMEOUT: "DEADLINE_EXCEEDED",
    adbc_driver_manager.AdbcStatusCode.IO: "UNAVAILABLE",
    adbc_driver_manager.AdbcStatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
    adbc_driver_manager.AdbcStatusCode.UNAUTHORIZED: "PERMISSION_DENIED",
    adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT: "INVALID_ARGUMENT",
    adbc_driver_manager.AdbcStatusCode.NOT_FOUND: "NOT_FOUND",
    adbc_driver_manager.AdbcStatusCode.NOT_IMPLEMENTED: "UNIMPLEMENTED",
    adbc_driver_manager.AdbcStatusCode.INTERNAL: "INTERNAL",
}
# pyarrow.flight raises one class per gRPC status
_FLIGHT_CLASSES = (
    (fl.FlightUnauthenticatedError, "UNAUTHENTICATED"),
    (fl.FlightUnauthorizedError, "PERMISSION_DENIED"),
    (fl.FlightUnavailableError, "UNAVAILABLE"),
    (fl.FlightTimedOutError, "DEADLINE_EXCEEDED"),
    (fl.FlightCancelledError, "CANCELLED"),
    (fl.FlightInternalError, "INTERNAL"),
    (fl.FlightServerError, "UNKNOWN"),
    (pa.ArrowInvalid, "INVALID_ARGUMENT"),
    (pa.ArrowNotImplementedError, "UNIMPLEMENTED"),
    (pa.ArrowKeyError, "NOT_FOUND"),
)
_DRIVER_TAG = "[FlightSQL] "


@dataclass(eq=False)
class AmpServerError(Exception):
    """What the server (or the channel to it) reported."""

    code: str  # gRPC status name: INVALID_ARGUMENT, INTERNAL, UNAVAILABLE, ...
    error: str  # Amp's error, e.g. "failed to plan query"
    causes: tuple[str, ...] = ()  # Amp's cause chain, outermost first

    @classmethod
    def from_message(cls, code: str, message: str) -> AmpServerError:
        error, _, chain = message.strip().partition(CAUSED_BY)
        causes = tuple(c.strip() for c in chain.split(CAUSE_SEPARATOR)) if chain else ()
        return cls(code, error.strip(), causes)

    @property
    def message(self) -> str:
        """Amp's message as sent: the error, then its causes."""
        if not self.causes:
            return self.error
        return f"{self.error}{CAUSED_BY}{CAUSE_SEPARATOR.join(self.causes)}"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _camel_to_code(camel: str) -> str:
    """`DeadlineExceeded` -> `DEADLINE_EXCEEDED` (the driver's trailer spells codes in Go,
    where `Canceled` is gRPC's CANCELLED)."""
    code = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(camel)).upper()
    return "CANCELLED" if code == "CANCELED" else code


def _without_trailer(text: str) -> tuple[str, str | None]:
    """`<message> (<Code>; <call>)` -> (message, CODE): the Go driver's trailer."""
    body, opened, trailer = text.rpartition(" (")
    if opened and trailer.endswith(")") and ";" in trailer:
        return body, _camel_to_code(trailer.split(";", 1)[0].strip())
    return text, None


def from_adbc(exc: adbc_driver_manager.Error) -> AmpServerError:
    """A driver error from a call (GetFlightInfo, connection setup)."""
    text = str(exc).strip()
    vendor = getattr(exc, "vendor_code", None)
    text = text.removesuffix(f". Vendor code: {vendor}") if vendor is not None else text
    text = text.partition(_DRIVER_TAG)[2] or text
    message, trailer_code = _without_trailer(text)
    if isinstance(vendor, int) and 0 < vendor < len(GRPC_CODES):
        code = GRPC_CODES[vendor]
    else:
        code = trailer_code or _ADBC_TO_GRPC.get(getattr(exc, "status_code", None), "UNKNOWN")
    return AmpServerError.from_message(code, message)


def from_stream(exc: BaseException) -> AmpServerError:
    """An error raised while reading the driver's result stream (DoGet)."""
    text = str(exc).strip().removeprefix(_DRIVER_TAG)
    message, code = _without_trailer(text)
    return AmpServerError.from_message(code or "UNKNOWN", message.split(". Detail: ")[0])


def from_flight(exc: BaseException) -> AmpServerError:
    """A pyarrow.flight error (the query-model path)."""
    code = next((c for cls, c in _FLIGHT_CLASSES if isinstance(exc, cls)), "UNKNOWN")
    text = str(exc).strip()
    text = text.partition("with message: ")[2] or text
    text = text.split(". gRPC client debug context:")[0].split(". Detail: ")[0]
    return AmpServerError.from_message(code, text)


def is_stream_error(exc: BaseException) -> bool:
    """True for the driver's result-stream errors (they carry its tag)."""
    return isinstance(exc, (OSError, pa.ArrowException)) and _DRIVER_TAG in str(exc)
