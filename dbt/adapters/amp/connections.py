"""Connections to Amp over ADBC Flight SQL.

Amp answers exactly two RPCs: `GetFlightInfo(CommandStatementQuery)` and `DoGet`. The DB-API cursor of
adbc-driver-manager always sends a `CreatePreparedStatement` action first (refused by Amp, costing a
round trip), so `AmpCursor` drives the low-level `AdbcStatement` itself: `execute` is GetFlightInfo +
DoGet, `plan_schema` is GetFlightInfo only. Bind parameters are never sent.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import adbc_driver_flightsql
import adbc_driver_manager
import pyarrow as pa
from adbc_driver_flightsql import dbapi as flightsql
from adbc_driver_manager import AdbcStatusCode
from dbt.adapters.contracts.connection import AdapterResponse, Connection, ConnectionState
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.exceptions import FailedToConnectError
from dbt.adapters.sql import SQLConnectionManager
from dbt_common.exceptions import DbtDatabaseError, DbtRuntimeError

from dbt.adapters.amp.credentials import AmpCredentials, TransportSettings, transport_of
from dbt.adapters.amp.results import arrow_to_agate
from dbt.adapters.amp.sql_text import columns_kept_sql, strip_trailing_comments
from dbt.adapters.amp.suggestions import struct_field_hint
from dbt.adapters.amp.types import arrow_type_to_sql, to_python_column

if TYPE_CHECKING:
    from dbt.adapters.amp.flight import BatchSink

logger = AdapterLogger("Amp")
T = TypeVar("T")

DB_OPT = adbc_driver_flightsql.DatabaseOptions
# The Go driver has crashed on concurrent connection setup (apache/arrow-adbc#1178): serialize it.
_OPEN_LOCK = threading.Lock()
CONNECTIVITY_STATUSES = {AdbcStatusCode.IO}
AUTH_STATUSES = {AdbcStatusCode.UNAUTHENTICATED, AdbcStatusCode.UNAUTHORIZED}
GRPC_UNAVAILABLE = 14
_DRIVER_NOISE = re.compile(
    r"^(?P<code>[A-Z_]+): \[FlightSQL\] (?P<msg>.*?)(?: \([A-Za-z]+; [^)]*\))?(?:\. Vendor code: -?\d+)?$",
    re.S,
)


# Errors raised while reading a result stream (DoGet) come from the Go driver's C stream as plain
# OSError/ArrowException: "[FlightSQL] <message> (<gRPC code>; DoGet: endpoint 0: [])".
_STREAM_NOISE = re.compile(
    r"^\[FlightSQL\] (?P<msg>.*?)(?:\. Detail: [A-Za-z]+)?(?: \((?P<code>[A-Za-z]+); [^)]*\))?$",
    re.S,
)
_GRPC_TO_ADBC = {
    "UNAUTHENTICATED": AdbcStatusCode.UNAUTHENTICATED,
    "PERMISSION_DENIED": AdbcStatusCode.UNAUTHORIZED,
    "UNAVAILABLE": AdbcStatusCode.IO,
    "DEADLINE_EXCEEDED": AdbcStatusCode.TIMEOUT,
    "CANCELLED": AdbcStatusCode.CANCELLED,
    "INVALID_ARGUMENT": AdbcStatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": AdbcStatusCode.NOT_FOUND,
    "ALREADY_EXISTS": AdbcStatusCode.ALREADY_EXISTS,
    "UNIMPLEMENTED": AdbcStatusCode.NOT_IMPLEMENTED,
    "INTERNAL": AdbcStatusCode.INTERNAL,
    "UNKNOWN": AdbcStatusCode.UNKNOWN,
}


class AmpAuthError(FailedToConnectError):
    """The server refused the bearer token (retrying will not help)."""


class AmpTimeoutError(DbtDatabaseError):
    """A query ran past `query_timeout` (never retried: it would time out again)."""


@dataclass
class AmpAdapterResponse(AdapterResponse):
    rows: int | None = None
    bytes: int | None = None
    duration_seconds: float | None = None
    block_ranges: list[dict] | None = None
    # block_range/export query models: the blocks this run covered, and its export file
    processed_ranges: list[dict] | None = None
    export_path: str | None = None


def clean_driver_message(error: BaseException) -> tuple[str, str]:
    """(gRPC-ish status name, server message) from an ADBC error, trailers removed."""
    text = str(error).strip()
    match = _DRIVER_NOISE.match(text)
    if not match:
        return "", text
    return match.group("code"), match.group("msg").strip()


def clean_stream_message(error: BaseException) -> tuple[str, str]:
    """(gRPC status name, server message) from an error raised while reading a result stream."""
    text = str(error).strip()
    match = _STREAM_NOISE.match(text)
    if not match:
        return "", text
    camel = match.group("code") or ""
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()
    return code, match.group("msg").strip()


def token_source_hint(credentials: AmpCredentials | None) -> str:
    """Where the token that was sent came from (never the token itself)."""
    if credentials is None:
        return ""
    source = credentials.token_source()
    if source == "none":
        return (
            "No token was sent (none in the profile, AMP_AUTH_TOKEN or the Amp CLI login cache)."
        )
    if source == "profile":
        where = "the profile's `token`"
    elif source.startswith("env "):
        where = f"the {source[4:]} environment variable"
    else:
        where = f"the Amp CLI login cache ({source})"
    return f"The token sent came from {where}."


def translate_error(error: BaseException, credentials: AmpCredentials | None = None) -> Exception:
    """One dbt exception for one driver error; the server's message is kept intact."""
    if isinstance(error, DbtRuntimeError):
        return error
    if isinstance(error, adbc_driver_manager.Error):
        status = getattr(error, "status_code", None)
        vendor_code = getattr(error, "vendor_code", None)
        code, message = clean_driver_message(error)
    elif isinstance(error, (OSError, pa.ArrowException)) and "[FlightSQL]" in str(error):
        code, message = clean_stream_message(error)
        status, vendor_code = _GRPC_TO_ADBC.get(code), None
    else:
        return DbtRuntimeError(f"{type(error).__name__}: {error}")
    where = credentials.query_url if credentials else "the Amp server"
    if status in AUTH_STATUSES:
        hint = token_source_hint(credentials)
        return AmpAuthError(
            f"Amp at {where} refused the credentials ({code}): {message}. "
            + (f"{hint} " if hint else "")
            + "Set `token` in the profile (e.g. token: \"{{ env_var('AMP_AUTH_TOKEN') }}\"), the "
            "AMP_AUTH_TOKEN environment variable, or log in with `amp auth login`."
        )
    if status == AdbcStatusCode.TIMEOUT:
        limit = credentials.query_timeout if credentials else None
        setting = (
            f"query_timeout is {limit:g} s" if limit else "no query_timeout is set in the profile"
        )
        return AmpTimeoutError(
            f"Amp query timed out at {where} ({code or 'TIMEOUT'}): {message}. {setting}: raise "
            "`query_timeout` (seconds) in the profile, or make the query cheaper (e.g. a narrower "
            "block range). Timed-out queries are not retried."
        )
    if status in CONNECTIVITY_STATUSES or vendor_code == GRPC_UNAVAILABLE:
        return FailedToConnectError(
            f"Could not reach Amp at {where} ({code or 'UNAVAILABLE'}): {message}. Check "
            "query_url (grpc://host:1602 or grpc+tls://host:port) and that the server is running."
        )
    return DbtDatabaseError(f"Amp error ({code}): {message}" if code else message)


class AmpCursor:
    """A DB-API-shaped cursor over one `AdbcStatement`, without prepared statements."""

    def __init__(self, handle: AmpHandle) -> None:
        self._handle = handle
        self._stmt: adbc_driver_manager.AdbcStatement | None = None
        self._reader: pa.RecordBatchReader | None = None
        self._pending: list[tuple] = []
        self.rowcount = -1
        self.arraysize = 1
        # time.monotonic() when AmpConnectionManager.add_query began (retries included)
        self.started: float | None = None

    # --- execution ---------------------------------------------------------------------------

    def _statement(self, sql: str) -> adbc_driver_manager.AdbcStatement:
        self._release()
        self._stmt = self._handle.new_statement()
        self._stmt.set_sql_query(sql)
        return self._stmt

    def execute(self, sql: str, bindings: Any = None) -> AmpCursor:
        if bindings:
            raise DbtRuntimeError(
                "dbt-amp does not send bind parameters (Amp has no prepared statements); "
                "render literals into the SQL instead"
            )
        stmt = self._statement(sql)
        stream, _ = stmt.execute_query()
        self._reader = pa.RecordBatchReader.from_stream(stream)
        return self

    def plan_schema(self, sql: str) -> pa.Schema:
        """The result schema from GetFlightInfo alone: the query is planned, never executed.

        A schema without columns is never taken as the answer: a query always selects some.
        Servers that run the query to plan it drop the columns of an empty result (roapi); the
        query is then planned again with its columns kept."""
        schema = self._plan_once(sql)
        if len(schema) == 0:
            schema = self._plan_once(columns_kept_sql(sql))
        if len(schema) == 0:
            first_line = strip_trailing_comments(sql).strip().splitlines()[0][:200]
            raise DbtDatabaseError(
                f"The server at {self._handle.credentials.query_url} planned no columns for a "
                f"query that selects some ({first_line} ...), also with the query wrapped to keep "
                "its columns. dbt-amp needs them to check contracts, type unit-test rows and list "
                "catalog columns. Amp always returns them: check that query_url points at Amp."
            )
        return schema

    def _plan_once(self, sql: str) -> pa.Schema:
        stmt = self._statement(sql)
        _, schema_handle, _ = stmt.execute_partitions()
        return pa.Schema._import_from_c(schema_handle.address)

    # --- results -----------------------------------------------------------------------------

    @property
    def description(self) -> list[tuple] | None:
        if self._reader is None:
            return None
        return [(f.name, f.type, None, None, None, None, f.nullable) for f in self._reader.schema]

    @property
    def schema(self) -> pa.Schema | None:
        return None if self._reader is None else self._reader.schema

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        if self._reader is None:
            raise DbtRuntimeError("no query has been executed on this cursor")
        yield from self._reader

    def fetch_arrow_table(self, limit: int | None = None) -> pa.Table:
        if self._reader is None:
            raise DbtRuntimeError("no query has been executed on this cursor")
        if limit is None:
            table = self._reader.read_all()
        else:
            batches, rows = [], 0
            for batch in self._reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows >= limit:
                    break
            table = pa.Table.from_batches(batches, schema=self._reader.schema).slice(0, limit)
        self.rowcount = table.num_rows
        return table

    @staticmethod
    def _to_rows(data: pa.Table | pa.RecordBatch) -> list[tuple]:
        columns = [to_python_column(col) for col in data.columns]
        return list(zip(*columns, strict=True)) if columns else [()] * data.num_rows

    def fetchall(self) -> list[tuple]:
        rows = self._pending + self._to_rows(self.fetch_arrow_table())
        self._pending = []
        self.rowcount = len(rows)
        return rows

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        size = size or self.arraysize
        while len(self._pending) < size and self._reader is not None:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                break
            self._pending += self._to_rows(batch)
        rows, self._pending = self._pending[:size], self._pending[size:]
        self.rowcount = max(self.rowcount, 0) + len(rows)
        return rows

    def fetchone(self) -> tuple | None:
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    # --- lifecycle ---------------------------------------------------------------------------

    def cancel(self) -> None:
        if self._stmt is not None:
            self._stmt.cancel()

    def _release(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._stmt is not None:
            stmt, self._stmt = self._stmt, None
            self._handle.forget(stmt)
            stmt.close()
        self._pending = []

    def close(self) -> None:
        self._release()


class AmpHandle:
    """`connection.handle`: one ADBC connection, its live statements, and no transactions."""

    def __init__(
        self, credentials: AmpCredentials, settings: TransportSettings | None = None
    ) -> None:
        self.credentials = credentials
        settings = settings or credentials.transport()
        self._lock = threading.Lock()
        self._statements: set[adbc_driver_manager.AdbcStatement] = set()
        with _OPEN_LOCK:
            self._conn = flightsql.connect(
                settings.query_url, db_kwargs=adbc_db_options(settings), autocommit=True
            )

    def cursor(self) -> AmpCursor:
        return AmpCursor(self)

    def new_statement(self) -> adbc_driver_manager.AdbcStatement:
        stmt = adbc_driver_manager.AdbcStatement(self._conn.adbc_connection)
        with self._lock:
            self._statements.add(stmt)
        return stmt

    def forget(self, stmt: adbc_driver_manager.AdbcStatement) -> None:
        with self._lock:
            self._statements.discard(stmt)

    def cancel(self) -> None:
        with self._lock:
            statements = list(self._statements)
        for stmt in statements:
            try:
                stmt.cancel()
            except adbc_driver_manager.Error as exc:
                logger.debug(f"cancel failed: {exc}")

    def rollback(self) -> None:  # Amp has no transactions
        pass

    def commit(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            statements, self._statements = list(self._statements), set()
        for stmt in statements:
            try:
                stmt.close()
            except adbc_driver_manager.Error:
                pass
        self._conn.close()


def adbc_db_options(settings: TransportSettings) -> dict[str, str]:
    options: dict[str, str] = {}
    if settings.token:
        options[DB_OPT.AUTHORIZATION_HEADER.value] = f"Bearer {settings.token}"
    for name, value in settings.headers:
        options[DB_OPT.RPC_CALL_HEADER_PREFIX.value + name] = value
    if settings.use_tls:
        if settings.tls_skip_verify:
            options[DB_OPT.TLS_SKIP_VERIFY.value] = "true"
        if settings.tls_root_certs:
            options[DB_OPT.TLS_ROOT_CERTS.value] = settings.root_certs_pem() or ""
        if settings.tls_override_hostname:
            options[DB_OPT.TLS_OVERRIDE_HOSTNAME.value] = settings.tls_override_hostname
    if settings.timeout:
        options[DB_OPT.TIMEOUT_QUERY.value] = str(float(settings.timeout))
        options[DB_OPT.TIMEOUT_FETCH.value] = str(float(settings.timeout))
    return options


def _elapsed(started: float) -> float:
    """Seconds since `started` (a time.monotonic() value), as reported in adapter responses."""
    return round(time.monotonic() - started, 6)


class AmpConnectionManager(SQLConnectionManager):
    TYPE = "amp"

    @classmethod
    def open(cls, connection: Connection) -> Connection:
        if connection.state == ConnectionState.OPEN:
            return connection
        credentials: AmpCredentials = connection.credentials
        settings = transport_of(connection)
        try:
            connection.handle = AmpHandle(credentials, settings)
            connection.state = ConnectionState.OPEN
        except adbc_driver_manager.Error as exc:
            connection.handle = None
            connection.state = ConnectionState.FAIL
            raise translate_error(exc, credentials) from exc
        logger.debug(
            f"Opened Amp connection to {credentials.query_url} "
            f"(token from {settings.token_source})"
        )
        return connection

    def cancel(self, connection: Connection) -> None:
        side = getattr(connection, "_amp_flight", None)
        if side is not None:
            side.cancel()
        handle = getattr(connection, "_handle", None)  # never open a lazy handle to cancel it
        if isinstance(handle, AmpHandle):
            handle.cancel()

    @classmethod
    def close(cls, connection: Connection) -> Connection:
        side = getattr(connection, "_amp_flight", None)
        if side is not None:
            connection._amp_flight = None
            side.close()
        connection._amp_transport = None  # a reopened connection reads the token again
        return super().close(connection)

    @contextmanager
    def exception_handler(self, sql: str) -> Iterator[None]:
        try:
            yield
        except DbtRuntimeError:
            raise
        except Exception as exc:
            logger.debug(f"Amp error while running:\n{sql}")
            connection = self.get_if_exists()
            error = translate_error(exc, connection.credentials if connection else None)
            if isinstance(error, DbtDatabaseError):
                error.msg += struct_field_hint(error.msg, sql)
            raise error from exc

    # --- no transactions ---------------------------------------------------------------------

    def begin(self) -> Connection:
        connection = self.get_thread_connection()
        connection.transaction_open = True
        return connection

    def commit(self) -> Connection:
        connection = self.get_thread_connection()
        connection.transaction_open = False
        return connection

    def add_begin_query(self) -> None:
        return None

    def add_commit_query(self) -> None:
        return None

    # --- queries -----------------------------------------------------------------------------

    def add_query(self, sql, auto_begin=True, bindings=None, abridge_sql_log=False, **kwargs):
        started = time.monotonic()
        connection, cursor = self.with_retries(
            lambda: super(AmpConnectionManager, self).add_query(
                sql, auto_begin=False, bindings=bindings, abridge_sql_log=abridge_sql_log
            )
        )
        cursor.started = started
        return connection, cursor

    def with_retries(self, attempt_once: Callable[[], T]) -> T:
        """`attempt_once()`, repeated up to the profile's `retries` times with backoff when it
        fails to reach Amp (FailedToConnectError). Auth errors, SQL errors and timeouts are
        never retried."""
        retries = self.profile.credentials.retries if self.profile else 0
        attempt = 0
        while True:
            try:
                return attempt_once()
            except FailedToConnectError as exc:
                if attempt >= retries or isinstance(exc, AmpAuthError):
                    raise
                attempt += 1
                wait = min(2**attempt * 0.25, 4.0)
                logger.debug(f"Amp unreachable, retry {attempt}/{retries} in {wait:.2f}s: {exc}")
                time.sleep(wait)

    def execute(self, sql: str, auto_begin: bool = False, fetch: bool = False, limit=None):
        from dbt_common.clients.agate_helper import empty_table

        commented = self._add_query_comment(sql)
        _, cursor = self.add_query(commented, auto_begin)
        try:
            with self.exception_handler(commented):
                if fetch:
                    result = cursor.fetch_arrow_table(limit or None)
                    if result.num_columns == 0 and result.num_rows == 0:
                        # a server that dropped the columns of an empty result: plan them
                        result = self.plan_schema(sql).empty_table()
                    table = arrow_to_agate(result)
                else:
                    table = empty_table()
                    for _ in cursor.iter_batches():  # surface execution errors, then drop
                        pass
            return self.get_response(cursor), table
        finally:
            cursor.close()

    def plan_schema(self, sql: str) -> pa.Schema:
        """The Arrow schema of `sql`, planned by the server (GetFlightInfo only; see
        AmpCursor.plan_schema for schemas without columns)."""
        sql = self._add_query_comment(sql)
        connection = self.get_thread_connection()
        with self.exception_handler(sql):
            logger.debug(f"Planning on connection {connection.name!r}:\n{sql}")
            cursor = connection.handle.cursor()
            try:
                return cursor.plan_schema(sql)
            finally:
                cursor.close()

    def run_query_model(self, sql: str, sink: BatchSink | None = None) -> AmpAdapterResponse:
        """Plan and execute `sql` over pyarrow.flight, counting rows and bytes from Arrow (no
        agate table), streaming the batches to `sink` (an export) and keeping the block ranges
        Amp reports."""
        from dbt.adapters.amp.flight import run_counting

        connection = self.get_thread_connection()
        sql = self._add_query_comment(sql)
        started = time.monotonic()

        def attempt_once():
            with self.exception_handler(sql):
                logger.debug(f"Running query model on {connection.name!r}:\n{sql}")
                return run_counting(connection, sql, sink)

        result = self.with_retries(attempt_once)
        return AmpAdapterResponse(
            _message=f"OK {result.rows} rows, {result.bytes} bytes",
            rows_affected=result.rows,
            rows=result.rows,
            bytes=result.bytes,
            duration_seconds=_elapsed(started),
            block_ranges=result.block_ranges,
        )

    @classmethod
    def get_response(cls, cursor: AmpCursor) -> AmpAdapterResponse:
        rows = cursor.rowcount if cursor.rowcount >= 0 else None
        return AmpAdapterResponse(
            _message="OK",
            rows_affected=rows or 0,
            rows=rows,
            duration_seconds=_elapsed(cursor.started) if cursor.started else None,
        )

    @classmethod
    def data_type_code_to_name(cls, type_code: Any) -> str:
        if isinstance(type_code, pa.DataType):
            return arrow_type_to_sql(type_code)
        return str(type_code)

    @classmethod
    def get_result_from_cursor(cls, cursor: AmpCursor, limit: int | None):
        """The result as an agate table typed from its Arrow schema (exact decimals)."""
        return arrow_to_agate(cursor.fetch_arrow_table(limit or None))
