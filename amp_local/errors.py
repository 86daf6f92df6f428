"""Amp's query errors: the `error_code` strings, the gRPC/HTTP status each maps to (PROTOCOL §1.8),
and the message text Amp's server renders.

Every failure `amp_local` reports to a client is an `AmpError`, so the Flight and HTTP layers map it the
same way real Amp does instead of each inventing its own codes.

Messages follow Amp's `error_with_causes` (`<error> | Caused by: <source> -> <source's source> …`) over
its error types (`crates/services/server/src/flight.rs` `Error`, `crates/core/common/src/
query_context.rs` `Error`), whose sources are DataFusion errors. `DataFusionError` renders those as
DataFusion does: `Error during planning: …`, `Execution error: …`, and a context layer as
`<context>\\ncaused by\\n<inner>` whose source is the inner error (so Amp lists it once more).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
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

    def __init__(
        self, error_code: str, message: str, cause: DataFusionError | None = None
    ) -> None:
        if error_code not in ERROR_CODES:
            raise ValueError(f"unknown Amp error code {error_code!r}")
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.cause = cause  # the DataFusion error behind it, if any

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


# --------------------------------------------------------------------------------------------------
# DataFusion errors, as Amp's server prints them
# --------------------------------------------------------------------------------------------------

_PREFIXES = {
    "plan": "Error during planning: ",
    "execution": "Execution error: ",
    "schema": "Schema error: ",
    "sql": "SQL error: ",
    "internal": "Internal error: ",
    "context": "",
}
INTERNAL_SUFFIX = (
    ".\nThis issue was likely caused by a bug in DataFusion's code. Please help us to resolve "
    "this by filing a bug report in our issue tracker: https://github.com/apache/datafusion/issues"
)


@dataclass(frozen=True)
class DataFusionError:
    """A `datafusion::error::DataFusionError`: `Plan(msg)`, `Execution(msg)`, `Internal(msg)`, a
    message DataFusion already rendered (`raw`) or `Context(description, inner)`."""

    kind: str  # plan | execution | internal | schema | sql | raw | context
    message: str
    inner: DataFusionError | None = None

    @classmethod
    def plan(cls, message: str) -> DataFusionError:
        return cls("plan", message)

    @classmethod
    def raw(cls, rendered: str) -> DataFusionError:
        """An error whose DataFusion text is already complete (e.g. from datafusion-python); a
        `<context>\ncaused by\n<inner>` text becomes that context layer again."""
        context, separator, inner = rendered.partition("\ncaused by\n")
        if separator:
            return cls.raw(inner).context(context)
        return cls("raw", rendered)

    def context(self, description: str) -> DataFusionError:
        """`err.context(description)`, as Amp's UDFs wrap errors with their function name."""
        return DataFusionError("context", description, self)

    def __str__(self) -> str:
        if self.kind == "context":
            return f"{self.message}\ncaused by\n{self.inner}"
        if self.kind == "raw":
            return self.message
        if self.kind == "internal":
            return _PREFIXES["internal"] + self.message + INTERNAL_SUFFIX
        return _PREFIXES[self.kind] + self.message

    def chain(self) -> list[str]:
        """This error's text and then each of its sources' (`std::error::Error::source`)."""
        return [str(self), *(self.inner.chain() if self.inner is not None else [])]


def planning_error(error: DataFusionError) -> AmpError:
    """`query_context::Error::PlanningError` ("planning error: {0}", INTERNAL): DataFusion planning
    errors that Amp does not tag as user input, e.g. UDF argument checks or an unknown column."""
    return AmpError("PLANNING_ERROR", caused_by(f"planning error: {error}", *error.chain()))


def invalid_plan(error: DataFusionError) -> AmpError:
    """`query_context::Error::InvalidPlan` ("invalid plan", INVALID_ARGUMENT): the plan breaks one of
    Amp's rules (`_`-aliases, read-only, `block_num()` in a batch query)."""
    return AmpError("INVALID_PLAN", caused_by("invalid plan", *error.chain()))


def execution_error(error: DataFusionError) -> AmpError:
    """flight.rs `Error::ExecutionError` ("query execution error"): DataFusion failed mid-stream,
    e.g. a UDF refused an argument while computing rows (literal arguments are computed then too:
    DataFusion keeps an expression unfolded when evaluating it at planning time fails)."""
    return AmpError("EXECUTION_ERROR", caused_by("query execution error", *error.chain()), error)


def streaming_execution_error(error: DataFusionError) -> AmpError:
    """flight.rs `Error::StreamingExecutionError` ("streaming query execution error: {0}", with
    the error as text): a streaming query failed while computing a microbatch."""
    return AmpError(
        "STREAMING_EXECUTION_ERROR", f"streaming query execution error: {error}", error
    )


def core_execution_error(error: DataFusionError) -> AmpError:
    """`query_context::Error::ExecutionError` raised before the stream starts (DoGet), e.g. the
    duplicate-field check on the physical plan."""
    return AmpError("CORE_EXECUTION_ERROR", caused_by("query execution error", *error.chain()))


# --------------------------------------------------------------------------------------------------
# Errors raised inside UDFs, carried through DataFusion's text
# --------------------------------------------------------------------------------------------------

_CARRIED_RE = re.compile(r"amp-udf-error-([0-9a-f]{32})")
_CARRIED: OrderedDict[str, DataFusionError] = OrderedDict()
_CARRIED_LOCK = threading.Lock()
_CARRIED_MAX = 1024  # errors nobody looked up (e.g. a folding attempt) are forgotten eventually


class UdfError(ValueError):
    """Raised by a UDF with the DataFusion error Amp's UDF returns. DataFusion wraps exceptions
    from Python UDFs in text of its own (`PyErr { … }`); the message holds only a token, so
    `carried_error` finds this error again whatever the wrapping or quoting."""

    def __init__(self, error: DataFusionError) -> None:
        token = uuid.uuid4().hex
        with _CARRIED_LOCK:
            _CARRIED[token] = error
            while len(_CARRIED) > _CARRIED_MAX:
                _CARRIED.popitem(last=False)
        super().__init__(f"amp-udf-error-{token}")
        self.error = error


def carried_error(text: str) -> DataFusionError | None:
    """The `UdfError` named in a DataFusion error message, if there is one."""
    for token in _CARRIED_RE.findall(text):
        with _CARRIED_LOCK:
            error = _CARRIED.get(token)
        if error is not None:
            return error
    return None


# what the servers log (with the traceback) for an exception that is not an AmpError: a bug in
# amp_local; the client gets INTERNAL without Python text, and the test suite fails on this line
INTERNAL_ERROR_LOG = "amp_local internal error"
INTERNAL_ERROR_MESSAGE = (
    "amp_local internal error (a bug in amp_local; the server log has the details)"
)
