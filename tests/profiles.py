"""The `type: amp` dbt profile target the tests use, pointed at a running amp_local."""

from __future__ import annotations

from amp_local.launcher import AmpServer


def amp_target(server: AmpServer, **overrides) -> dict:
    """A profile target for `server`; keyword arguments add or replace keys."""
    return {
        "type": "amp",
        "threads": 4,
        "query_url": server.flight_url,
        "admin_url": server.admin_url or "http://127.0.0.1:1",
        "schema": "dbt_test",
        **overrides,
    }
