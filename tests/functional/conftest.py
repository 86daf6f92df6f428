"""Fixtures for the tests that speak Flight to amp_local directly."""

from __future__ import annotations

import pytest

from tests.functional.amp_cli import amp_cli  # noqa: F401 - the official Amp CLI (session fixture)
from tests.functional.flight_client import connect


@pytest.fixture(scope="module")
def client(amp_server):
    """A raw pyarrow.flight client of the session's amp_local (sees app_metadata, status codes);
    every error it receives is checked for UNKNOWN statuses and leaked internals."""
    c = connect(amp_server.flight_url)
    yield c
    c.close()


@pytest.fixture(scope="module")
def admin(amp_server):
    """The session server's Admin API; every response is checked against Amp's OpenAPI spec."""
    from tests.functional.admin_client import AdminClient

    c = AdminClient(amp_server.admin_url)
    yield c
    c.close()
