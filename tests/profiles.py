"""The `type: amp` dbt profile target the tests use, pointed at a running amp_local."""

from __future__ import annotations

from amp_local.launcher import AmpServer


def amp_target(server: AmpServer, **overrides) -> dict:
    """A profile target for `server`; keyword arguments add or replace keys."""
    target = {"type": "amp", "threads": 4, "query_url": server.flight_url, "schema": "dbt_test"}
    if server.admin_url:  # `dbt debug` proves the Admin API whenever a profile names one
        target["admin_url"] = server.admin_url
    return {**target, **overrides}
