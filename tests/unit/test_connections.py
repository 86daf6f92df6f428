"""The connection layer against a recording Flight server with Amp's surface (only
GetFlightInfo(CommandStatementQuery) + DoGet; everything else refused): which RPCs each
operation sends, headers, block-range metadata, and error translation."""

import json
import threading
import time
from types import SimpleNamespace

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as fl
import pytest
from adbc_driver_manager import AdbcStatusCode
from dbt.adapters.exceptions import FailedToConnectError
from dbt_common.exceptions import DbtDatabaseError, DbtRuntimeError

from dbt.adapters.amp.connections import (
    AmpAuthError,
    AmpConnectionManager,
    AmpHandle,
    AmpTimeoutError,
    translate_error,
)
from dbt.adapters.amp.credentials import AmpCredentials
from dbt.adapters.amp.flight import run_counting

TABLE = pa.table(
    {"n": pa.array([1, 2, 3], pa.int64()), "h": pa.array([b"\x01"] * 3, pa.binary(1))}
)
RANGES = [{"numbers": {"start": 5, "end": 9}, "network": "mainnet", "hash": "0x" + "00" * 32}]


class HeaderMiddleware(fl.ServerMiddleware):
    def __init__(self, headers):
        self.headers = headers


class HeaderFactory(fl.ServerMiddlewareFactory):
    def start_call(self, info, headers):
        return HeaderMiddleware(headers)


class AmpLikeServer(fl.FlightServerBase):
    def __init__(self):
        super().__init__("grpc://127.0.0.1:0", middleware={"headers": HeaderFactory()})
        self.calls: list[str] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()

    def _record(self, context, name):
        with self.lock:
            self.calls.append(name)
            self.headers.append(dict(context.get_middleware("headers").headers))

    def get_flight_info(self, context, descriptor):
        if b"CommandStatementQuery" not in descriptor.command:
            self._record(context, "GetFlightInfo(other)")
            raise fl.FlightServerError("unsupported flight descriptor command")
        self._record(context, "GetFlightInfo")
        if b"selec " in descriptor.command:
            raise pa.ArrowInvalid("invalid SQL | Caused by: ParserError")
        # like roapi: no columns for an empty result (`limit 0`); `never_columns`: for any query
        # (a fault no real server has, to reach the error)
        if b"never_columns" in descriptor.command or (
            b"limit 0" in descriptor.command and b"dbt_amp_anchor" not in descriptor.command
        ):
            return fl.FlightInfo(pa.schema([]), descriptor, [], -1, -1)
        ticket = b"t"
        for marker in (b"fail", b"slow"):  # `select 'fail'`: the error comes from DoGet
            if marker in descriptor.command:
                ticket = marker
        return fl.FlightInfo(TABLE.schema, descriptor, [fl.FlightEndpoint(ticket, [])], -1, -1)

    def do_get(self, context, ticket):
        self._record(context, "DoGet")
        if ticket.ticket == b"fail":
            raise fl.FlightInternalError(
                "query execution failed | Caused by: Divide by zero error"
            )
        if ticket.ticket == b"slow":
            time.sleep(1.0)
        meta = json.dumps({"ranges": RANGES, "ranges_complete": False}).encode()
        done = json.dumps({"ranges": RANGES, "ranges_complete": True}).encode()
        batch = TABLE.to_batches()[0]
        empty = batch.slice(0, 0)

        def chunks():
            yield batch, pa.py_buffer(meta)
            yield empty, pa.py_buffer(done)

        return fl.GeneratorStream(TABLE.schema, chunks())

    def do_action(self, context, action):
        self._record(context, f"DoAction({action.type})")
        raise NotImplementedError(action.type)


@pytest.fixture(scope="module")
def server():
    srv = AmpLikeServer()
    yield srv
    srv.shutdown()


@pytest.fixture
def credentials(server):
    return AmpCredentials(
        query_url=f"grpc://127.0.0.1:{server.port}",
        schema="ns",
        token="tok",
        headers={"amp-stream": "false"},
    )


@pytest.fixture
def handle(credentials, server):
    h = AmpHandle(credentials)
    server.calls.clear()
    server.headers.clear()
    yield h
    h.close()


def test_execute_sends_only_getflightinfo_and_doget(handle, server):
    cursor = handle.cursor()
    try:
        cursor.execute("select 1")
        assert [d[0] for d in cursor.description] == ["n", "h"]
        assert cursor.fetchall() == [(1, "0x01"), (2, "0x01"), (3, "0x01")]
    finally:
        cursor.close()
    assert server.calls == ["GetFlightInfo", "DoGet"]  # no CreatePreparedStatement
    assert all(h["authorization"] == ["Bearer tok"] for h in server.headers)
    assert all(h["amp-stream"] == ["false"] for h in server.headers)


def test_plan_schema_sends_only_getflightinfo(handle, server):
    cursor = handle.cursor()
    try:
        schema = cursor.plan_schema("select * from t")
    finally:
        cursor.close()
    assert schema == TABLE.schema
    assert server.calls == ["GetFlightInfo"]


def test_a_schema_without_columns_is_planned_again_with_columns_kept(handle, server):
    cursor = handle.cursor()
    try:
        assert cursor.plan_schema("select * from t limit 0") == TABLE.schema
        assert server.calls == ["GetFlightInfo", "GetFlightInfo"]
        with pytest.raises(DbtDatabaseError) as exc:
            cursor.plan_schema("select never_columns from t -- note")
    finally:
        cursor.close()
    message = str(exc.value)
    assert f"The server at {handle.credentials.query_url} planned no columns" in message
    assert "(select never_columns from t ...)" in message and "check contracts" in message


def test_fetchmany_and_limit(handle):
    cursor = handle.cursor()
    try:
        cursor.execute("select 1")
        assert cursor.fetchmany(2) == [(1, "0x01"), (2, "0x01")]
        assert cursor.fetchone() == (3, "0x01")
        assert cursor.fetchone() is None
    finally:
        cursor.close()


def test_bind_parameters_refused(handle, server):
    cursor = handle.cursor()
    with pytest.raises(DbtRuntimeError, match="does not send bind parameters"):
        cursor.execute("select ?", (1,))
    cursor.close()
    assert server.calls == []


def test_query_model_path_reads_block_ranges(handle, credentials, server):
    class Conn:
        pass

    conn = Conn()
    conn.handle, conn.credentials = handle, credentials
    result = run_counting(conn, "select 1")
    assert result.rows == 3 and result.bytes > 0
    assert result.block_ranges == RANGES and result.ranges_complete
    assert server.calls == ["GetFlightInfo", "DoGet"]
    assert server.headers[0]["authorization"] == ["Bearer tok"]
    with pytest.raises(adbc_driver_manager.ProgrammingError) as exc:
        run_counting(conn, "selec 1")
    assert isinstance(translate_error(exc.value), DbtDatabaseError)
    assert "invalid SQL | Caused by: ParserError" in str(translate_error(exc.value))


@pytest.mark.parametrize(
    "error,expected,text",
    [
        (
            adbc_driver_manager.ProgrammingError(
                "INVALID_ARGUMENT: [FlightSQL] invalid SQL | Caused by: x (InvalidArgument; "
                "ExecuteQuery). Vendor code: 3",
                status_code=AdbcStatusCode.INVALID_ARGUMENT,
                vendor_code=3,
            ),
            DbtDatabaseError,
            "Amp error (INVALID_ARGUMENT): invalid SQL | Caused by: x",
        ),
        (
            adbc_driver_manager.OperationalError(
                "IO: [FlightSQL] connection error: refused (Unavailable; Prepare). Vendor code: 14",
                status_code=AdbcStatusCode.IO,
                vendor_code=14,
            ),
            FailedToConnectError,
            "Could not reach Amp at grpc://h:1 (IO): connection error: refused",
        ),
        (
            adbc_driver_manager.ProgrammingError(
                "UNAUTHENTICATED: [FlightSQL] bad token (Unauthenticated; ExecuteQuery)",
                status_code=AdbcStatusCode.UNAUTHENTICATED,
            ),
            AmpAuthError,
            "refused the credentials (UNAUTHENTICATED): bad token",
        ),
        (ValueError("boom"), DbtRuntimeError, "ValueError: boom"),
    ],
)
def test_translate_error(error, expected, text):
    creds = AmpCredentials(query_url="grpc://h:1", schema="ns")
    translated = translate_error(error, creds)
    assert isinstance(translated, expected)
    assert text in str(translated)


def test_concurrent_handles(credentials):
    errors = []

    def work():
        try:
            h = AmpHandle(credentials)
            for _ in range(5):
                c = h.cursor()
                c.execute("select 1")
                assert len(c.fetchall()) == 3
                c.close()
            h.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


class Conn:
    def __init__(self, handle, credentials):
        self.handle, self.credentials = handle, credentials


def _adbc_fetch(handle, sql):
    cursor = handle.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def test_doget_errors_on_both_paths_are_database_errors(handle, credentials):
    """An error in DoGet comes out of ADBC's C stream as a plain OSError; it reads like any other
    Amp error on both paths: status and the server's message, no driver trailer."""
    with pytest.raises(OSError) as raw:
        _adbc_fetch(handle, "select 'fail'")
    assert "[FlightSQL]" in str(raw.value) and "DoGet" in str(raw.value)
    with pytest.raises(adbc_driver_manager.Error) as flight_raw:
        run_counting(Conn(handle, credentials), "select 'fail'")
    for error in (raw.value, flight_raw.value):
        translated = translate_error(error, credentials)
        assert type(translated) is DbtDatabaseError, repr(translated)
        assert translated.msg == (
            "Amp error (INTERNAL): query execution failed | Caused by: Divide by zero error"
        ), translated.msg


def test_timeouts_name_query_timeout_on_both_paths(server):
    creds = AmpCredentials(
        query_url=f"grpc://127.0.0.1:{server.port}", schema="ns", query_timeout=0.3
    )
    h = AmpHandle(creds)
    try:
        with pytest.raises(OSError) as raw:
            _adbc_fetch(h, "select 'slow'")
        with pytest.raises(adbc_driver_manager.Error) as flight_raw:
            run_counting(Conn(h, creds), "select 'slow'")
    finally:
        h.close()
    for error in (raw.value, flight_raw.value):
        translated = translate_error(error, creds)
        assert isinstance(translated, AmpTimeoutError), repr(translated)
        message = str(translated)
        assert "timed out" in message and "query_timeout is 0.3 s" in message, message
        assert "Could not reach" not in message and "query_url" not in message, message
        assert "debug context" not in message, message


def _manager(retries):
    profile = SimpleNamespace(credentials=SimpleNamespace(retries=retries))
    return SimpleNamespace(profile=profile)


@pytest.mark.parametrize(
    "error,calls",
    [
        (FailedToConnectError("unreachable"), 3),  # the first try + 2 retries
        (AmpTimeoutError("timed out"), 1),
        (AmpAuthError("refused"), 1),
        (DbtDatabaseError("bad SQL"), 1),
    ],
    ids=["connectivity", "timeout", "auth", "sql"],
)
def test_only_connectivity_errors_are_retried(monkeypatch, error, calls):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    attempts = []

    def once():
        attempts.append(1)
        raise error

    with pytest.raises(type(error)):
        AmpConnectionManager.with_retries(_manager(2), once)
    assert len(attempts) == calls


def test_token_resolved_once_per_connection(server, tmp_path, monkeypatch):
    """Without a profile/env token the Amp CLI login cache is read once per connection open, not
    once per query on either path. (This expired login cannot be refreshed: one warning.)"""
    from dbt.adapters.contracts.connection import Connection, ConnectionState

    from dbt.adapters.amp import auth

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AMP_AUTH_TOKEN", raising=False)
    cache = tmp_path / ".amp" / "cache"
    cache.mkdir(parents=True)
    (cache / "amp_cli_auth").write_text(json.dumps({"accessToken": "cli-tok", "expiry": 1}))
    reads, warnings = [], []
    real_read = auth.read_login

    def counting_read(path):
        reads.append(path)
        return real_read(path)

    monkeypatch.setattr(auth, "read_login", counting_read)
    monkeypatch.setattr(auth.logger, "warning", warnings.append)
    creds = AmpCredentials(query_url=f"grpc://127.0.0.1:{server.port}", schema="ns")
    conn = Connection(type="amp", name="t", credentials=creds, state=ConnectionState.INIT)
    AmpConnectionManager.open(conn)
    server.calls.clear()
    server.headers.clear()
    try:
        for _ in range(3):
            assert run_counting(conn, "select 1").rows == 3
            assert len(_adbc_fetch(conn.handle, "select 1")) == 3
    finally:
        AmpConnectionManager.close(conn)
    assert len(reads) == 1 and len(warnings) == 1, (reads, warnings)
    assert "needs a refresh" in warnings[0] and "amp auth login" in warnings[0]
    assert {h["authorization"][0] for h in server.headers} == {"Bearer cli-tok"}
    AmpConnectionManager.open(conn)  # a new open reads the login cache again
    try:
        run_counting(conn, "select 1")
    finally:
        AmpConnectionManager.close(conn)
    assert len(reads) == 2
