"""One transport per dbt connection (`connection.handle`): the Flight clients and their state.

Amp answers exactly two RPCs: `GetFlightInfo(CommandStatementQuery)` and `DoGet`. An `AmpTransport`
owns, for one connection:

* the settings resolved once when it opens (token, headers, TLS, timeout);
* the ADBC Flight SQL connection (opened on first use), driven through low-level `AdbcStatement`s (the DB-API cursor
  would first send `CreatePreparedStatement`, which Amp refuses): `plan()` is GetFlightInfo only,
  `AmpCursor.execute()` is GetFlightInfo + DoGet;
* a pyarrow.flight client for query models, opened on first use: ADBC drops Flight `app_metadata`,
  where Amp reports the block ranges a result covers (`run_counting()`);
* the calls in flight, so `cancel()` (Ctrl-C) stops whatever runs, on either client.

Every failure leaves it as an `AmpServerError` (server_errors.py). Bind parameters are never sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import adbc_driver_flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as fl
from adbc_driver_flightsql import dbapi as flightsql
from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import DbtDatabaseError, DbtRuntimeError

from dbt.adapters.amp.credentials import AmpCredentials, TransportSettings
from dbt.adapters.amp.flight import (
    BatchSink,
    QueryResult,
    TableSink,
    count_endpoint,
    statement_query_command,
)
from dbt.adapters.amp.server_errors import (
    AmpServerError,
    from_adbc,
    from_flight,
    from_stream,
    is_stream_error,
)
from dbt.adapters.amp.sql_text import columns_kept_sql, strip_trailing_comments
from dbt.adapters.amp.types import to_python_column

logger = AdapterLogger("Amp")
T = TypeVar("T")
DB_OPT = adbc_driver_flightsql.DatabaseOptions
# The Go driver has crashed on concurrent connection setup (apache/arrow-adbc#1178): serialize it.
_OPEN_LOCK = threading.Lock()


@contextmanager
def server_errors() -> Iterator[None]:
    """Re-raise what either client library raises as an AmpServerError."""
    try:
        yield
    except AmpServerError:
        raise
    except adbc_driver_manager.Error as exc:
        raise from_adbc(exc) from exc
    except (fl.FlightError, pa.ArrowException, OSError) as exc:
        if is_stream_error(exc):
            raise from_stream(exc) from exc
        if isinstance(exc, (fl.FlightError, pa.ArrowException)):
            raise from_flight(exc) from exc
        raise


class AmpTransport:
    """`connection.handle`: both Flight clients of one connection, and what they are running."""

    def __init__(
        self, credentials: AmpCredentials, settings: TransportSettings | None = None
    ) -> None:
        self.credentials = credentials
        # the token is read (and refreshed if due) once, here, unless the caller has settings
        self.settings: TransportSettings = settings or credentials.transport()
        self._lock = threading.Lock()
        self._running: set = set()  # AdbcStatements and Flight readers, for cancel()
        self._adbc: Any = None  # each client opens on first use
        self._flight: tuple[fl.FlightClient, fl.FlightCallOptions] | None = None

    def adbc_connection(self) -> Any:
        """The ADBC connection, opened on first use (its driver asks for the server's SQL info
        once; a query model, which uses pyarrow.flight only, never opens it)."""
        with self._lock:
            if self._adbc is None:
                with _OPEN_LOCK, server_errors():
                    self._adbc = flightsql.connect(
                        self.settings.query_url,
                        db_kwargs=adbc_db_options(self.settings),
                        autocommit=True,
                    )
            return self._adbc

    # --- calls in flight ---------------------------------------------------------------------

    def _track(self, call: Any) -> None:
        with self._lock:
            self._running.add(call)

    def _untrack(self, call: Any) -> None:
        with self._lock:
            self._running.discard(call)

    def cancel(self) -> None:
        """Cancel every running call, ADBC statement or Flight stream alike (Ctrl-C)."""
        with self._lock:
            running = list(self._running)
        for call in running:
            try:
                call.cancel()
            except Exception as exc:  # noqa: BLE001 - best effort while dbt is interrupted
                logger.debug(f"cancel failed: {exc}")

    # --- ADBC: planning and agate-bound results ----------------------------------------------

    def cursor(self) -> AmpCursor:
        return AmpCursor(self)

    def new_statement(self, sql: str) -> adbc_driver_manager.AdbcStatement:
        statement = adbc_driver_manager.AdbcStatement(self.adbc_connection().adbc_connection)
        self._track(statement)
        statement.set_sql_query(sql)
        return statement

    def release(self, statement: adbc_driver_manager.AdbcStatement) -> None:
        self._untrack(statement)
        statement.close()

    def plan(self, sql: str) -> pa.Schema:
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
                f"The server at {self.settings.query_url} planned no columns for a query that "
                f"selects some ({first_line} ...), also with the query wrapped to keep its "
                "columns. dbt-amp needs them to check contracts, type unit-test rows and list "
                "catalog columns. Amp always returns them: check that query_url points at Amp."
            )
        return schema

    def _plan_once(self, sql: str) -> pa.Schema:
        statement = self.new_statement(sql)
        try:
            with server_errors():
                _, schema_handle, _ = statement.execute_partitions()
                return pa.Schema._import_from_c(schema_handle.address)
        finally:
            self.release(statement)

    # --- pyarrow.flight: query models --------------------------------------------------------

    def _flight_client(self) -> tuple[fl.FlightClient, fl.FlightCallOptions]:
        with self._lock:
            if self._flight is None:
                self._flight = flight_client(self.settings), flight_call_options(self.settings)
            return self._flight

    def run_counting(self, sql: str, sink: BatchSink | None = None) -> QueryResult:
        """GetFlightInfo + DoGet for `sql`; batches are counted as they arrive and handed to
        `sink` (if any), never collected, and the block ranges Amp reports in `app_metadata`
        are kept."""
        client, options = self._flight_client()
        result = QueryResult()
        with server_errors():
            info = client.get_flight_info(
                fl.FlightDescriptor.for_command(statement_query_command(sql)), options
            )
            for index, endpoint in enumerate(info.endpoints):
                reader = client.do_get(endpoint.ticket, options)
                if sink is not None and index == 0:
                    sink.begin(reader.schema)
                self._track(reader)
                try:
                    count_endpoint(reader, result, sink)
                finally:
                    self._untrack(reader)
            if sink is not None and not info.endpoints:
                sink.begin(info.schema)
        return result

    def fetch_query(self, sql: str) -> tuple[pa.Table, QueryResult]:
        """A small result kept whole, with the block ranges Amp reported for it (the monitor's
        probes)."""
        sink = TableSink()
        result = self.run_counting(sql, sink)
        return sink.table(), result

    # --- lifecycle ---------------------------------------------------------------------------

    def rollback(self) -> None:  # Amp has no transactions
        pass

    def commit(self) -> None:
        pass

    def close(self) -> None:
        self.cancel()
        with self._lock:
            running, self._running = list(self._running), set()
            flight, self._flight = self._flight, None
            adbc, self._adbc = self._adbc, None
        for call in running:
            if isinstance(call, adbc_driver_manager.AdbcStatement):
                try:
                    call.close()
                except adbc_driver_manager.Error:
                    pass
        if flight is not None:
            flight[0].close()
        if adbc is not None:
            adbc.close()


class AmpCursor:
    """A DB-API-shaped cursor (what dbt's SQLConnectionManager expects) over one statement."""

    def __init__(self, transport: AmpTransport) -> None:
        self._transport = transport
        self._statement: adbc_driver_manager.AdbcStatement | None = None
        self._reader: pa.RecordBatchReader | None = None
        self._pending: list[tuple] = []
        self.rowcount = -1
        self.arraysize = 1
        # time.monotonic() when AmpConnectionManager.add_query began (retries included)
        self.started: float | None = None

    def execute(self, sql: str, bindings: Any = None) -> AmpCursor:
        if bindings:
            raise DbtRuntimeError(
                "dbt-amp does not send bind parameters (Amp has no prepared statements); "
                "render literals into the SQL instead"
            )
        self._release()
        self._statement = self._transport.new_statement(sql)
        with server_errors():
            stream, _ = self._statement.execute_query()
            self._reader = pa.RecordBatchReader.from_stream(stream)
        return self

    def plan_schema(self, sql: str) -> pa.Schema:
        return self._transport.plan(sql)

    @property
    def description(self) -> list[tuple] | None:
        if self._reader is None:
            return None
        return [(f.name, f.type, None, None, None, None, f.nullable) for f in self._reader.schema]

    def _read(self, read: Callable[[pa.RecordBatchReader], T]) -> T:
        if self._reader is None:
            raise DbtRuntimeError("no query has been executed on this cursor")
        with server_errors():
            return read(self._reader)

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                yield self._read(lambda reader: reader.read_next_batch())
            except StopIteration:
                return

    def fetch_arrow_table(self, limit: int | None = None) -> pa.Table:
        if limit is None:
            table = self._read(lambda reader: reader.read_all())
        else:
            batches, rows = [], 0
            for batch in self.iter_batches():
                batches.append(batch)
                rows += batch.num_rows
                if rows >= limit:
                    break
            schema = self._read(lambda reader: reader.schema)
            table = pa.Table.from_batches(batches, schema=schema).slice(0, limit)
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
        batches = self.iter_batches()
        while len(self._pending) < size:
            batch = next(batches, None)
            if batch is None:
                break
            self._pending += self._to_rows(batch)
        rows, self._pending = self._pending[:size], self._pending[size:]
        self.rowcount = max(self.rowcount, 0) + len(rows)
        return rows

    def fetchone(self) -> tuple | None:
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    def _release(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._statement is not None:
            statement, self._statement = self._statement, None
            self._transport.release(statement)
        self._pending = []

    def close(self) -> None:
        self._release()


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


def flight_client(settings: TransportSettings) -> fl.FlightClient:
    kwargs: dict = {}
    if settings.use_tls:
        kwargs["disable_server_verification"] = settings.tls_skip_verify
        if settings.tls_root_certs:
            kwargs["tls_root_certs"] = settings.root_certs_pem()
        if settings.tls_override_hostname:
            kwargs["override_hostname"] = settings.tls_override_hostname
    location = settings.query_url.replace("grpc://", "grpc+tcp://", 1)
    return fl.FlightClient(location, **kwargs)


def flight_call_options(settings: TransportSettings) -> fl.FlightCallOptions:
    headers = [(k.encode(), v.encode()) for k, v in settings.headers]
    if settings.token:
        headers.append((b"authorization", f"Bearer {settings.token}".encode()))
    return fl.FlightCallOptions(headers=headers, timeout=settings.timeout)
