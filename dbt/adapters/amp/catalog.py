"""`dbt docs generate` on Amp: a catalog entry for every source and every model dbt-amp runs.

Amp has no information_schema. Sources are its dataset tables; ephemeral and query models exist
only as SQL, and a dataset model's table is its SQL once Amp materializes it. Each entry's columns
come from planning (GetFlightInfo only, nothing executed) either `select * from <table>` or the
model's compiled SQL; its descriptions come from the YAML, so the
docs site shows them for models that have no database comments to read. Empty tables keep their
columns (AmpCursor.plan_schema never trusts a schema without columns).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import agate
from dbt_common.clients.agate_helper import table_from_data_flat

CATALOG_COLUMNS = [
    "table_database",
    "table_schema",
    "table_name",
    "table_type",
    "table_comment",
    "table_owner",
    "column_name",
    "column_index",
    "column_type",
    "column_comment",
]
# `table_type` by what the entry is on Amp
SOURCE, QUERY_MODEL, EPHEMERAL_MODEL, DATASET_MODEL = "TABLE", "QUERY", "EPHEMERAL", "DATASET"


@dataclass(frozen=True)
class CatalogEntry:
    """One catalogued node: where dbt looks it up (database, schema, identifier) and its YAML."""

    node: Any
    kind: str

    @property
    def label(self) -> str:
        return f"{self.node.resource_type} '{self.node.name}'"

    def comment(self) -> str | None:
        return getattr(self.node, "description", None) or None

    def column_comment(self, name: str) -> str | None:
        columns = getattr(self.node, "columns", None) or {}
        by_lower = {key.lower(): info for key, info in columns.items()}
        info = by_lower.get(name.lower())
        return (getattr(info, "description", None) or None) if info is not None else None


def catalog_table(planned: Iterable[tuple[CatalogEntry, list]]) -> agate.Table:
    """dbt's catalog table from (entry, planned columns) pairs."""
    rows = []
    for entry, columns in planned:
        node = entry.node
        for index, column in enumerate(columns, start=1):
            values = [node.database, node.schema, node.identifier, entry.kind, entry.comment()]
            values += [None, column.name, index, column.dtype, entry.column_comment(column.name)]
            rows.append(dict(zip(CATALOG_COLUMNS, values, strict=True)))
    return table_from_data_flat(rows, CATALOG_COLUMNS)
