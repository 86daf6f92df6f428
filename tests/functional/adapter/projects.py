"""Shared pieces of the dbt test projects: the ephemeral default most projects run under, and the
per-node view of a dbt invocation's results."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

# Amp is read-only: models that are not `query` or `dataset` models are inlined as CTEs
EPHEMERAL_DEFAULT = {"models": {"+materialized": "ephemeral"}}


class EphemeralProject:
    """Base of a test class whose project's models are ephemeral unless they say otherwise."""

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return EPHEMERAL_DEFAULT


def results_by_name(results: Iterable[Any]) -> dict[str, Any]:
    """{node name: result} of a `run_dbt` call."""
    return {r.node.name: r for r in results}


def statuses(results: Iterable[Any]) -> dict[str, str]:
    """{node name: status text} of a `run_dbt` call ("success", "error", "pass", ...)."""
    return {r.node.name: str(r.status) for r in results}


def messages(results: Iterable[Any]) -> dict[str, str | None]:
    """{node name: message}: what an assertion on `statuses` shows when it fails."""
    return {r.node.name: r.message for r in results}


def sources_yml(source: str, schema: str, *tables: str) -> str:
    """A properties file declaring one dbt source: `tables` of the Amp dataset `schema`."""
    listed = ", ".join(f"{{name: {t}}}" for t in tables)
    return f'version: 2\nsources:\n  - name: {source}\n    schema: "{schema}"\n    tables: [{listed}]\n'
