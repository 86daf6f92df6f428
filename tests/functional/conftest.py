"""Fixtures for the tests that speak Flight to amp_local directly."""

from __future__ import annotations

import pyarrow.flight as flight
import pytest


@pytest.fixture(scope="module")
def client(amp_server):
    """A raw pyarrow.flight client of the session's amp_local (sees app_metadata, status codes)."""
    c = flight.connect(amp_server.flight_url)
    yield c
    c.close()
