"""dbt's connection manager for Amp: one AmpTransport (transport.py) per dbt connection.

Amp's errors arrive as AmpServerError (gRPC code, message, cause chain); `translate_error` turns
each into the one dbt exception that says what happened and what to do about it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
from dbt.adapters.contracts.connection import AdapterResponse, Connection, ConnectionState
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.exceptions import FailedToConnectError
from dbt.adapters.sql import SQLConnectionManager
from dbt_common.exceptions import DbtDatabaseError, DbtRuntimeError

from dbt.adapters.amp.credentials import AmpCredentials
from dbt.adapters.amp.flight import BatchSink
from dbt.adapters.amp.results import arrow_to_agate
from dbt.adapters.amp.server_errors import AmpServerError
from dbt.adapters.amp.suggestions import dataset_table_hint, struct_field_hint
from dbt.adapters.amp.transport import AmpCursor, AmpTransport
from dbt.adapters.amp.types import arrow_type_to_sql

logger = AdapterLogger("Amp")
T = TypeVar("T")
AUTH_CODES = ("UNAUTHENTICATED", "PERMISSION_DENIED")


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


def translate_error(
    error: BaseException, credentials: AmpCredentials | None = None, sql: str = ""
) -> Exception:
    """One dbt exception for one error; Amp's message is kept intact."""
    if isinstance(error, DbtRuntimeError):
        return error
    if not isinstance(error, AmpServerError):
        return DbtRuntimeError(f"{type(error).__name__}: {error}")
    where = credentials.query_url if credentials else "the Amp server"
    code, message = error.code, error.message
    if code in AUTH_CODES:
        hint = token_source_hint(credentials)
        return AmpAuthError(
            f"Amp at {where} refused the credentials ({code}): {message}. "
            + (f"{hint} " if hint else "")
            + "Set `token` in the profile (e.g. token: \"{{ env_var('AMP_AUTH_TOKEN') }}\"), the "
            "AMP_AUTH_TOKEN environment variable, or log in with `amp auth login`."
        )
    if code == "DEADLINE_EXCEEDED":
        limit = credentials.query_timeout if credentials else None
        setting = (
            f"query_timeout is {limit:g} s" if limit else "no query_timeout is set in the profile"
        )
        return AmpTimeoutError(
            f"Amp query timed out at {where} ({code}): {message}. {setting}: raise "
            "`query_timeout` (seconds) in the profile, or make the query cheaper (e.g. a narrower "
            "block range). Timed-out queries are not retried."
        )
    if code == "UNAVAILABLE":
        return FailedToConnectError(
            f"Could not reach Amp at {where} ({code}): {message}. Check "
            "query_url (grpc://host:1602 or grpc+tls://host:port) and that the server is running."
        )
    hint = struct_field_hint(message, sql) or dataset_table_hint(message)
    return DbtDatabaseError(f"Amp error ({code}): {message}{hint}")


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
        try:  # resolves the token (an Amp CLI login may need a refresh); the clients open lazily
            connection.handle = AmpTransport(credentials)
        except Exception:
            connection.handle = None
            connection.state = ConnectionState.FAIL
            raise
        connection.state = ConnectionState.OPEN
        logger.debug(
            f"Opened Amp connection to {credentials.query_url} "
            f"(token from {connection.handle.settings.token_source})"
        )
        return connection

    def cancel(self, connection: Connection) -> None:
        """Cancel what the connection runs (one path for both clients); a connection that never
        opened has nothing running, and is not opened to be cancelled."""
        if connection.state == ConnectionState.OPEN:
            connection.handle.cancel()

    @contextmanager
    def exception_handler(self, sql: str) -> Iterator[None]:
        try:
            yield
        except DbtRuntimeError:
            raise
        except Exception as exc:
            logger.debug(f"Amp error while running:\n{sql}")
            connection = self.get_if_exists()
            credentials = connection.credentials if connection else None
            raise translate_error(exc, credentials, sql) from exc

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
        AmpTransport.plan for schemas without columns)."""
        sql = self._add_query_comment(sql)
        connection = self.get_thread_connection()
        with self.exception_handler(sql):
            logger.debug(f"Planning on connection {connection.name!r}:\n{sql}")
            return connection.handle.plan(sql)

    def run_query_model(self, sql: str, sink: BatchSink | None = None) -> AmpAdapterResponse:
        """Plan and execute `sql`, counting rows and bytes from Arrow (no agate table),
        streaming the batches to `sink` (an export) and keeping the block ranges Amp reports."""
        connection = self.get_thread_connection()
        sql = self._add_query_comment(sql)
        started = time.monotonic()

        def attempt_once():
            with self.exception_handler(sql):
                logger.debug(f"Running query model on {connection.name!r}:\n{sql}")
                return connection.handle.run_counting(sql, sink)

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
