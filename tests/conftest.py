"""Shared fixtures: one `amp_local` server per test session, started on free ports."""

from __future__ import annotations

import pytest

from amp_local.errors import INTERNAL_ERROR_LOG
from amp_local.launcher import AmpServer, start_amp_local
from dbt.adapters.amp import auth
from tests.auth_server import AuthServer
from tests.profiles import amp_target

pytest_plugins = ["dbt.tests.fixtures.project"]

TEST_BLOCKS = 2_000
TEST_SEED = 7


@pytest.fixture(scope="session")
def amp_server(tmp_path_factory) -> AmpServer:
    """A real `amp-local serve` subprocess: synthetic chain + Amp's real snapshot datasets."""
    server = start_amp_local(
        tmp_path_factory.mktemp("amp_local"),
        blocks=TEST_BLOCKS,
        extra_args=["--seed", str(TEST_SEED)],
    )
    yield server
    server.stop()
    assert_no_internal_errors(server)


@pytest.fixture(scope="session")
def amp_server_with_token(tmp_path_factory) -> AmpServer:
    """A server that enforces a bearer token (like a hosted Amp gateway)."""
    server = start_amp_local(
        tmp_path_factory.mktemp("amp_local_token"),
        blocks=0,
        extra_args=["--token", "s3cret-test-token"],
    )
    server.token = "s3cret-test-token"  # what clients must send
    yield server
    server.stop()
    assert_no_internal_errors(server)


def assert_no_internal_errors(server: AmpServer) -> None:
    """Every client of the suite (pyarrow Flight, ADBC, dbt, httpx) goes through these servers:
    none may have hit an exception amp_local did not turn into one of Amp's errors (such a
    request got INTERNAL instead of Amp's answer; the server log has the traceback)."""
    lines = [i for i, line in enumerate(server.stderr_lines) if INTERNAL_ERROR_LOG in line]
    assert not lines, "amp_local internal errors:\n" + "".join(
        "".join(server.stderr_lines[i : i + 30]) for i in lines[:3]
    )


@pytest.fixture(autouse=True)
def no_off_machine_auth(monkeypatch):
    """No test refreshes a login at Amp's real auth server: the default auth URL points at a
    closed local port (the discard port), so a test that forgets `auth_url` fails fast, here."""
    monkeypatch.setattr(auth, "DEFAULT_AUTH_URL", "http://127.0.0.1:9/")


@pytest.fixture
def auth_server():
    """A local Amp auth server (tests/auth_server.py) on a free port."""
    server = AuthServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="class")
def dbt_profile_target(amp_server):
    """The profile dbt-tests-adapter writes for every functional test project."""
    return amp_target(amp_server)
