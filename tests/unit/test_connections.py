"""The connection layer against a recording Flight server with Amp's surface (only
GetFlightInfo(CommandStatementQuery) + DoGet; everything else refused): which RPCs each
operation sends, headers, block-range metadata, and error translation."""

import json
import threading
import time
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.flight as fl
import pytest
from dbt.adapters.exceptions import FailedToConnectError
from dbt_common.exceptions import DbtDatabaseError, DbtRuntimeError

from dbt.adapters.amp.connections import (
    AmpAuthError,
    AmpConnectionManager,
    AmpTimeoutError,
    translate_error,
)
from dbt.adapters.amp.credentials import AmpCredentials
from dbt.adapters.amp.server_errors import AmpServerError
from dbt.adapters.amp.transport import AmpTransport

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
        meta = json.dumps({"ranges": RANGES, "ranges_complete": False}).encode()
        done = json.dumps({"ranges": RANGES, "ranges_complete": True}).encode()
        batch = TABLE.to_batches()[0]
        empty = batch.slice(0, 0)

        def chunks():
            if ticket.ticket == b"slow":  # the stream has started: the client can cancel it
                time.sleep(1.0)
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
    h = AmpTransport(credentials)
    h.adbc_connection()  # connection setup: the driver's own GetFlightInfo(GetSqlInfo), once
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


def test_query_models_never_open_the_adbc_connection(credentials, server):
    transport = AmpTransport(credentials)
    server.calls.clear()
    try:
        assert transport.run_counting("select 1").rows == 3
    finally:
        transport.close()
    assert server.calls == ["GetFlightInfo", "DoGet"]  # no GetFlightInfo(other) of ADBC's setup


def test_query_model_path_reads_block_ranges(handle, server):
    result = handle.run_counting("select 1")
    assert result.rows == 3 and result.bytes > 0
    assert result.block_ranges == RANGES and result.ranges_complete
    assert server.calls == ["GetFlightInfo", "DoGet"]
    assert server.headers[0]["authorization"] == ["Bearer tok"]
    with pytest.raises(AmpServerError) as exc:
        handle.run_counting("selec 1")
    assert exc.value.code == "INVALID_ARGUMENT"
    assert exc.value.error == "invalid SQL" and exc.value.causes == ("ParserError",)


@pytest.mark.parametrize(
    "error,expected,text",
    [
        (
            AmpServerError("INVALID_ARGUMENT", "invalid SQL", ("x",)),
            DbtDatabaseError,
            "Amp error (INVALID_ARGUMENT): invalid SQL | Caused by: x",
        ),
        (
            AmpServerError("UNAVAILABLE", "connection error: refused"),
            FailedToConnectError,
            "Could not reach Amp at grpc://h:1 (UNAVAILABLE): connection error: refused",
        ),
        (
            AmpServerError("UNAUTHENTICATED", "bad token"),
            AmpAuthError,
            "refused the credentials (UNAUTHENTICATED): bad token",
        ),
        (
            AmpServerError("DEADLINE_EXCEEDED", "deadline"),
            AmpTimeoutError,
            "no query_timeout is set in the profile",
        ),
        (ValueError("boom"), DbtRuntimeError, "ValueError: boom"),
    ],
)
def test_translate_error(error, expected, text):
    creds = AmpCredentials(query_url="grpc://h:1", schema="ns")
    translated = translate_error(error, creds)
    assert isinstance(translated, expected)
    assert text in str(translated)


def test_cause_chain():
    error = AmpServerError.from_message("INTERNAL", "failed to plan query | Caused by: a -> b")
    assert (error.error, error.causes) == ("failed to plan query", ("a", "b"))
    assert error.message == "failed to plan query | Caused by: a -> b"
    assert AmpServerError.from_message("INTERNAL", "plain").causes == ()


def test_concurrent_handles(credentials):
    errors = []

    def work():
        try:
            h = AmpTransport(credentials)
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


def _adbc_fetch(handle, sql):
    cursor = handle.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def test_doget_errors_on_both_clients_are_the_same_structured_error(handle, credentials):
    """An error in DoGet comes from ADBC's C stream as a plain OSError and from pyarrow.flight as a
    FlightInternalError; the transport reports both as the same AmpServerError."""
    with pytest.raises(AmpServerError) as adbc_path:
        _adbc_fetch(handle, "select 'fail'")
    with pytest.raises(AmpServerError) as flight_path:
        handle.run_counting("select 'fail'")
    for error in (adbc_path.value, flight_path.value):
        assert (error.code, error.error, error.causes) == (
            "INTERNAL",
            "query execution failed",
            ("Divide by zero error",),
        ), error
        translated = translate_error(error, credentials)
        assert type(translated) is DbtDatabaseError, repr(translated)
        assert translated.msg == (
            "Amp error (INTERNAL): query execution failed | Caused by: Divide by zero error"
        ), translated.msg


def test_timeouts_name_query_timeout_on_both_clients(server):
    creds = AmpCredentials(
        query_url=f"grpc://127.0.0.1:{server.port}", schema="ns", query_timeout=0.3
    )
    h = AmpTransport(creds)
    try:
        with pytest.raises(AmpServerError) as adbc_path:
            _adbc_fetch(h, "select 'slow'")
        with pytest.raises(AmpServerError) as flight_path:
            h.run_counting("select 'slow'")
    finally:
        h.close()
    for error in (adbc_path.value, flight_path.value):
        assert error.code == "DEADLINE_EXCEEDED", error
        translated = translate_error(error, creds)
        assert isinstance(translated, AmpTimeoutError), repr(translated)
        message = str(translated)
        assert "timed out" in message and "query_timeout is 0.3 s" in message, message
        assert "Could not reach" not in message and "query_url" not in message, message
        assert "debug context" not in message, message


def test_cancel_stops_both_clients(handle, server):
    """One cancel path: a running DoGet on either client stops."""
    errors = []

    def run(call):
        try:
            call()
        except AmpServerError as exc:
            errors.append(exc.code)

    calls = [
        lambda: _adbc_fetch(handle, "select 'slow'"),
        lambda: handle.run_counting("select 'slow'"),
    ]
    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5  # both DoGets have reached the (slow) server
    while server.calls.count("DoGet") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    handle.cancel()
    for t in threads:
        t.join()
    assert sorted(errors) == ["CANCELLED", "CANCELLED"], errors


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
            assert conn.handle.run_counting("select 1").rows == 3
            assert len(_adbc_fetch(conn.handle, "select 1")) == 3
    finally:
        AmpConnectionManager.close(conn)
    assert len(reads) == 1 and len(warnings) == 1, (reads, warnings)
    assert "needs a refresh" in warnings[0] and "amp auth login" in warnings[0]
    assert {h["authorization"][0] for h in server.headers} == {"Bearer cli-tok"}
    conn.state = ConnectionState.INIT
    AmpConnectionManager.open(conn)  # a new open reads the login cache again
    try:
        conn.handle.run_counting("select 1")
    finally:
        AmpConnectionManager.close(conn)
    assert len(reads) == 2
