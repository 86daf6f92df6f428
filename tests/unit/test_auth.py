"""The Amp CLI login cache and its refresh, against a local auth server over real HTTP
(tests/auth_server.py). The `auth_server` fixture is in tests/conftest.py."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time

import pytest

from dbt.adapters.amp import auth
from dbt.adapters.amp.auth import AmpLoginError, CliLogin, cached_token, read_login, refresh_login
from dbt.adapters.amp.credentials import AmpCredentials
from tests.auth_server import ACCOUNTS, OTHER_USER_ID, USER_ID, write_login

SECRETS = ("stale-access-token", "refresh-1", "fresh-access-token", "rotated-refresh-token")
MINUTE_MS = 60_000


@pytest.fixture
def cache(tmp_path):
    return tmp_path / ".amp" / "cache" / "amp_cli_auth"


@pytest.fixture
def server(auth_server):
    auth_server.valid["refresh-1"] = USER_ID
    return auth_server


@pytest.fixture
def warnings(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(auth.logger, "warning", seen.append)
    return seen


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def now_ms() -> int:
    return int(time.time() * 1000)


# --- when to refresh ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expiry_in_ms, accounts, due",
    [
        (None, ACCOUNTS, True),  # no expiry: refresh to learn it
        (60 * MINUTE_MS, None, True),  # no accounts: refresh to learn them
        (-MINUTE_MS, ACCOUNTS, True),  # expired
        (4 * MINUTE_MS, ACCOUNTS, True),  # expires within 5 minutes
        (5 * MINUTE_MS, ACCOUNTS, True),  # exactly 5 minutes: the CLI's `<=`
        (5 * MINUTE_MS + 1000, ACCOUNTS, False),
        (60 * MINUTE_MS, ACCOUNTS, False),
    ],
)
def test_needs_refresh_follows_the_cli(expiry_in_ms, accounts, due):
    now = 1_700_000_000_000
    expiry = None if expiry_in_ms is None else now + expiry_in_ms
    login = CliLogin("a", "r", USER_ID, None if accounts is None else tuple(accounts), expiry)
    assert login.needs_refresh(now) is due


def test_fresh_login_is_used_without_asking(server, cache):
    write_login(cache, expiry=now_ms() + 60 * MINUTE_MS)
    before = cache.read_bytes()
    assert cached_token(cache, server.url) == "stale-access-token"
    assert server.refreshes == 0 and cache.read_bytes() == before


# --- refresh -----------------------------------------------------------------------------------


def test_refresh_sends_the_cli_request_and_rewrites_the_cache(server, cache):
    write_login(cache)
    started = now_ms()
    assert cached_token(cache, server.url) == "fresh-access-token"
    finished = now_ms()
    (request,) = server.requests
    assert request["path"] == "/api/v1/auth/refresh"
    assert request["headers"]["authorization"] == "Bearer stale-access-token"
    assert request["headers"]["accept"] == "application/json"
    assert json.loads(request["body"]) == {"refresh_token": "refresh-1", "user_id": USER_ID}
    # the CLI's format, keys in its order, expiry in ms; owner-only; no temp file left behind
    data = json.loads(cache.read_text())
    assert list(data) == ["accessToken", "refreshToken", "userId", "accounts", "expiry"]
    assert data["accessToken"] == "fresh-access-token"
    assert data["refreshToken"] == "rotated-refresh-token"
    assert data["userId"] == USER_ID and data["accounts"] == ACCOUNTS
    assert started + 3_600_000 <= data["expiry"] <= finished + 3_600_000
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert [p.name for p in cache.parent.iterdir()] == ["amp_cli_auth"]
    # fresh now: the next connection reads it and asks nobody
    assert cached_token(cache, server.url) == "fresh-access-token"
    assert server.refreshes == 1


def test_null_refresh_token_keeps_the_old_one(server, cache):
    server.rotate_to = None
    write_login(cache, expiry=None)  # no expiry: refreshed to learn it
    assert cached_token(cache, server.url) == "fresh-access-token"
    data = json.loads(cache.read_text())
    assert data["refreshToken"] == "refresh-1" and data["expiry"] > now_ms()


def test_auth_url_with_a_path_prefix(server, cache):
    """`auth_url` is a base URL: the refresh endpoint is below it, trailing slash or not."""
    assert auth.refresh_url("https://auth.amp.thegraph.com/") == (
        "https://auth.amp.thegraph.com/api/v1/auth/refresh"
    )
    assert auth.refresh_url("http://h:1/base") == "http://h:1/base/api/v1/auth/refresh"


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("expired", "refused to refresh the login (401 Unauthorized: Refresh token expired)"),
        ("forbidden", "refused to refresh the login (403 Forbidden: Account suspended)"),
    ],
)
def test_refused_refresh_says_log_in_again(server, cache, mode, expected):
    if mode == "expired":
        server.valid.clear()  # the refresh token is no longer known
    else:
        server.mode = mode
    write_login(cache)
    written = cache.read_text()
    with pytest.raises(AmpLoginError) as raised:
        cached_token(cache, server.url)
    message = str(raised.value)
    assert expected in message
    assert "Log in again with `amp auth login`" in message
    assert f"Refreshing the Amp CLI login in {cache} failed" in message
    assert_no_secret(message)
    assert cache.read_text() == written  # nothing saved
    # remembered: another connection gets the same error without asking again
    with pytest.raises(AmpLoginError, match="Log in again"):
        cached_token(cache, server.url)
    assert server.refreshes == 1


def test_rate_limit_honours_retry_after(server, cache):
    server.mode = "rate_limit"  # the first request gets 429 with retry-after: 1
    write_login(cache)
    waits: list[float] = []
    login = read_login(cache)
    fresh = refresh_login(login, server.url, sleep=waits.append)
    assert fresh.access_token == "fresh-access-token"
    assert waits == [1] and server.refreshes == 2


def test_rate_limit_through_the_cache(server, cache):
    server.mode, server.retry_after = "rate_limit", "0"
    write_login(cache)
    assert cached_token(cache, server.url) == "fresh-access-token"
    assert server.refreshes == 2


@pytest.mark.parametrize(
    "retry_after, rate_limited, waits, requests, expected",
    [
        ("120", 1, [], 1, "asks to retry in 120 s"),  # longer than dbt should stall
        (None, 1, [], 1, "asks to retry in 60 s"),  # no header: the CLI's 60 s
        ("soon", 1, [], 1, "asks to retry in 60 s"),  # not an integer: as the CLI reads it
        ("1", 10, [1, 1], 3, "asks to retry in 1 s"),  # still limited after 3 attempts
    ],
)
def test_rate_limit_is_bounded(
    server, cache, retry_after, rate_limited, waits, requests, expected
):
    server.mode, server.retry_after, server.rate_limited = "rate_limit", retry_after, rate_limited
    write_login(cache)
    seen: list[float] = []
    with pytest.raises(AmpLoginError) as raised:
        refresh_login(read_login(cache), server.url, sleep=seen.append)
    assert expected in str(raised.value) and "Too many requests" in str(raised.value)
    assert seen == waits and server.refreshes == requests


def test_user_mismatch_is_an_error(server, cache):
    server.mode = "mismatch"
    write_login(cache)
    written = cache.read_text()
    with pytest.raises(AmpLoginError) as raised:
        cached_token(cache, server.url)
    message = str(raised.value)
    assert f"for user '{OTHER_USER_ID}'" in message and f"belongs to '{USER_ID}'" in message
    assert "was not used or saved" in message and "Log in again" in message
    assert_no_secret(message)
    assert cache.read_text() == written


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("server_error", "could not refresh the login (HTTP 500: Database unavailable)"),
        ("not_json", "is not a refresh response"),
    ],
)
def test_other_auth_server_failures(server, cache, mode, expected):
    server.mode = mode
    write_login(cache)
    with pytest.raises(AmpLoginError) as raised:
        cached_token(cache, server.url)
    assert expected in str(raised.value)
    assert_no_secret(str(raised.value))


def test_unreachable_auth_server(cache):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_login(cache)
    with pytest.raises(AmpLoginError) as raised:
        cached_token(cache, f"http://127.0.0.1:{port}/")
    assert f"Could not reach the Amp auth server at http://127.0.0.1:{port}/api/v1" in str(
        raised.value
    )
    assert "Check `auth_url`" in str(raised.value)


def test_expired_login_without_refresh_token(server, cache):
    write_login(cache, refreshToken=None)
    with pytest.raises(AmpLoginError, match="holds no `refreshToken` and `userId`"):
        cached_token(cache, server.url)
    assert server.refreshes == 0


@pytest.mark.parametrize(
    "text, detail",
    [
        ("{not json", "not JSON"),
        ("", "not JSON"),
        ('["a"]', "not a JSON object"),
        ('{"refreshToken": "r"}', "no `accessToken`"),
        ('{"accessToken": "  "}', "`accessToken` is not a non-empty string"),
        ('{"accessToken": "a", "accounts": "x"}', "`accounts` is not a list of strings"),
        (
            '{"accessToken": "a", "expiry": "soon"}',
            "`expiry` is not a positive number of milliseconds",
        ),
    ],
)
def test_corrupt_cache(server, cache, warnings, text, detail):
    cache.parent.mkdir(parents=True)
    cache.write_text(text)
    with pytest.raises(AmpLoginError) as raised:
        cached_token(cache, server.url, required=True)
    assert f"The Amp CLI login cache {cache} is not a valid login ({detail})" in str(raised.value)
    assert "Log in again with `amp auth login`, or delete the file" in str(raised.value)
    # as the last fallback it is skipped with one warning, however many connections ask
    assert cached_token(cache, server.url, required=False) is None
    assert cached_token(cache, server.url, required=False) is None
    assert len(warnings) == 1 and "Sending no token from it" in warnings[0]
    assert server.refreshes == 0


def test_fallback_keeps_the_cached_token_when_refresh_fails(server, cache, warnings):
    server.valid.clear()
    write_login(cache)
    for _ in range(3):
        assert cached_token(cache, server.url, required=False) == "stale-access-token"
    assert server.refreshes == 1
    assert len(warnings) == 1
    assert "Log in again with `amp auth login`" in warnings[0]
    assert "set `auth: true` in the profile to make this an error" in warnings[0]
    assert_no_secret(warnings[0])


# --- once per process --------------------------------------------------------------------------


@pytest.mark.parametrize("use_auth", [True, False], ids=["auth-true", "cache-fallback"])
def test_eight_threads_refresh_once(server, cache, tmp_path, monkeypatch, use_auth):
    """8 connections opening at once (dbt --threads 8) share one refresh: the first thread
    refreshes under the lock, the others read the fresh cache after it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AMP_AUTH_TOKEN", raising=False)
    server.delay = 0.3  # keep the refresh in flight while the other threads arrive
    write_login(cache)
    creds = AmpCredentials(
        query_url="grpc://127.0.0.1:1", schema="ns", auth=use_auth, auth_url=server.url
    )
    barrier = threading.Barrier(8)
    results: list[tuple[str | None, str]] = []
    errors: list[BaseException] = []

    def open_connection() -> None:
        try:
            barrier.wait()
            settings = creds.transport()
            results.append((settings.token, settings.token_source))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_connection) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [("fresh-access-token", str(cache))] * 8
    assert server.refreshes == 1


# --- the profile -------------------------------------------------------------------------------


def test_auth_true_needs_a_login(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AMP_AUTH_TOKEN", "from-env")  # `auth: true` means the login cache only
    creds = AmpCredentials(query_url="grpc://127.0.0.1:1", schema="ns", auth=True)
    with pytest.raises(AmpLoginError) as raised:
        creds.transport()
    assert "`auth: true`, but there is no Amp CLI login at ~/.amp/cache/amp_cli_auth" in str(
        raised.value
    )
    assert "Log in with `amp auth login`" in str(raised.value)


def test_auth_true_ignores_the_environment_and_legacy_path(server, tmp_path, monkeypatch):
    """The older TypeScript CLI kept the same login in ~/.amp-cli-config/; it is refreshed
    in place."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AMP_AUTH_TOKEN", "from-env")
    legacy = tmp_path / ".amp-cli-config" / "amp_cli_auth"
    write_login(legacy)
    creds = AmpCredentials(
        query_url="grpc://127.0.0.1:1", schema="ns", auth=True, auth_url=server.url
    )
    assert creds.resolve_token() == ("fresh-access-token", str(legacy))
    assert creds.token_source() == str(legacy)
    assert json.loads(legacy.read_text())["accessToken"] == "fresh-access-token"


def test_unsaved_refresh_is_kept_for_the_process(server, cache, warnings, monkeypatch):
    """If the refreshed login cannot be written back (a read-only home, simulated: the real
    save_login is replaced by one that raises, as root cannot be denied a write here), this process
    keeps using it and does not refresh the stale file's login a second time."""

    def read_only(path, login):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(auth, "save_login", read_only)
    write_login(cache)
    written = cache.read_text()
    for _ in range(3):
        assert cached_token(cache, server.url) == "fresh-access-token"
    assert server.refreshes == 1 and cache.read_text() == written
    assert len(warnings) == 1 and "could not save it" in warnings[0]
    assert "Permission denied" in warnings[0]
    assert_no_secret(warnings[0])
