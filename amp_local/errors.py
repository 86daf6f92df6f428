"""Amp's query errors: the `error_code` strings and the gRPC/HTTP status each maps to (PROTOCOL §1.8).

Every failure `amp_local` reports to a client is an `AmpError`, so the Flight and HTTP layers map it the
same way real Amp does instead of each inventing its own codes.
"""

from __future__ import annotations

from enum import Enum


class GrpcCode(str, Enum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL = "INTERNAL"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"


# error_code -> (gRPC code, HTTP status), from flight.rs::Error::error_code
ERROR_CODES: dict[str, tuple[GrpcCode, int]] = {
    "PB_DECODE_ERROR": (GrpcCode.INVALID_ARGUMENT, 400),
    "UNSUPPORTED_FLIGHT_DESCRIPTOR_TYPE": (GrpcCode.INVALID_ARGUMENT, 400),
    "UNSUPPORTED_FLIGHT_DESCRIPTOR_COMMAND": (GrpcCode.INVALID_ARGUMENT, 400),
    "INVALID_QUERY": (GrpcCode.INVALID_ARGUMENT, 400),
    "INVALID_SQL_STRING": (GrpcCode.INVALID_ARGUMENT, 400),
    "SQL_PARSE_ERROR": (GrpcCode.INVALID_ARGUMENT, 400),
    "TABLE_REFERENCE_RESOLUTION": (GrpcCode.INVALID_ARGUMENT, 400),
    "FUNCTION_REFERENCE_RESOLUTION": (GrpcCode.INVALID_ARGUMENT, 400),
    "INVALID_PLAN": (GrpcCode.INVALID_ARGUMENT, 400),
    "PLANNING_ERROR": (GrpcCode.INTERNAL, 500),
    "PHYSICAL_CATALOG_ERROR": (GrpcCode.INTERNAL, 500),
    "TABLE_NOT_FOUND_ERROR": (GrpcCode.NOT_FOUND, 404),
    "CORE_EXECUTION_ERROR": (GrpcCode.INTERNAL, 500),
    "STREAMING_EXECUTION_ERROR": (GrpcCode.INTERNAL, 500),
    "EXECUTION_ERROR": (GrpcCode.INTERNAL, 500),
    "TICKET_ENCODING_ERROR": (GrpcCode.INVALID_ARGUMENT, 400),
    "TICKET_DECODING_ERROR": (GrpcCode.INVALID_ARGUMENT, 400),
    "UNAUTHENTICATED": (GrpcCode.UNAUTHENTICATED, 401),
}


class AmpError(Exception):
    """A failure with Amp's error code; `str()` is the message Amp would put on the wire."""

    def __init__(self, error_code: str, message: str) -> None:
        if error_code not in ERROR_CODES:
            raise ValueError(f"unknown Amp error code {error_code!r}")
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def grpc_code(self) -> GrpcCode:
        return ERROR_CODES[self.error_code][0]

    @property
    def http_status(self) -> int:
        return ERROR_CODES[self.error_code][1]

    def to_json(self) -> dict[str, str]:
        """The HTTP error body shape: `{"error_code", "error_message"}`."""
        return {"error_code": self.error_code, "error_message": self.message}


def caused_by(error: str, *causes: str) -> str:
    """Amp's gRPC message shape: `<error> | Caused by: <cause1> -> <cause2>`."""
    causes = tuple(c for c in causes if c)
    return f"{error} | Caused by: {' -> '.join(causes)}" if causes else error
