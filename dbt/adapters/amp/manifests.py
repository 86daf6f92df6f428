"""Amp derived-dataset manifests from compiled dbt SQL (PROTOCOL §5).

Ad-hoc SQL names datasets by full reference (`"_/eth_rpc@1.0.0".logs`: sources, refs to dataset
models); manifest SQL may only use dependency aliases (`eth_rpc.logs`) whose references are pinned
to a semver version or a manifest hash. `rewrite_references` does the first step on SQL text (only
quoted identifiers outside literals and comments are touched), `pin_dependencies` the second
through the Admin API, and `derived_manifest` / `manifest_hash` produce exactly what Amp stores and
hashes: serde_json's compact form of the typed manifest (struct fields in declaration order, map
keys sorted).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dbt.adapters.amp.references import is_alias, parse_reference
from dbt.adapters.amp.sql_text import scan_sql

UNPINNED = ("latest", "dev")
_IDENT = re.compile(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*|\"[^\"]+\")")


@dataclass(frozen=True)
class Reference:
    """`namespace/name@revision`."""

    namespace: str
    name: str
    revision: str

    @classmethod
    def parse(cls, text: str) -> Reference:
        parts = parse_reference(text)
        if parts is None:
            raise ValueError(f"{text!r} is not an Amp dataset reference")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}@{self.revision}"

    def at(self, revision: str) -> Reference:
        return Reference(self.namespace, self.name, revision)


def _free_alias(name: str, taken: Iterable[str]) -> str:
    base = name if is_alias(name) else f"d{name}"[:60]
    taken = set(taken) | {"self"}
    alias, n = base, 2
    while alias in taken:
        alias, n = f"{base}_{n}", n + 1
    return alias


def rewrite_references(sql: str, dependencies: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Replace each `"ns/name@rev".<table>` by `<alias>.<table>`; the SQL and all dependencies.

    An existing alias of the same reference is reused; otherwise the alias is the dataset name
    (`eth_rpc`), suffixed when taken."""
    deps = dict(dependencies)
    by_reference = {ref: alias for alias, ref in deps.items()}
    out: list[str] = []
    for kind, start, end in scan_sql(sql):
        text = sql[start:end]
        inner = text[1:-1] if kind == "identifier" and len(text) > 1 else ""
        if kind == "identifier" and parse_reference(inner) and _IDENT.match(sql, end):
            alias = by_reference.get(inner)
            if alias is None:
                alias = _free_alias(Reference.parse(inner).name, deps)
                deps[alias], by_reference[inner] = inner, alias
            text = alias
        out.append(text)
    return "".join(out), deps


def table_references(sql: str, aliases: Iterable[str]) -> set[tuple[str, str]]:
    """The `(alias, table)` pairs the SQL reads (`alias.table` in code, outside literals)."""
    aliases = set(aliases)
    found: set[tuple[str, str]] = set()
    pattern = re.compile(r"(?<![\w.\"])([A-Za-z][A-Za-z0-9_]*)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
    for kind, start, end in scan_sql(sql):
        if kind != "code":
            continue
        for match in pattern.finditer(sql, start, end):
            if match[1] in aliases:
                found.add((match[1], match[2].lower()))
    return found


def pin_dependencies(
    dependencies: dict[str, str],
    resolve: Callable[[Reference], str],
    by_hash: Iterable[str] = (),
) -> dict[str, str]:
    """Dependencies with `latest`/`dev` (and every reference in `by_hash`) pinned.

    `resolve(reference)` answers the revision to pin to (a semver version or a manifest hash)."""
    by_hash = set(by_hash)
    pinned = {}
    for alias, text in dependencies.items():
        ref = Reference.parse(text)
        if ref.revision in UNPINNED or text in by_hash:
            ref = ref.at(resolve(ref))
        pinned[alias] = str(ref)
    return pinned


def derived_manifest(
    dependencies: dict[str, str],
    tables: dict[str, tuple[str, dict]],
    functions: dict | None = None,
) -> dict[str, Any]:
    """The manifest Amp stores, in its canonical field order: {table: (sql, schema)}."""
    return {
        "kind": "manifest",
        "dependencies": dict(sorted(dependencies.items())),
        "tables": {
            name: {"input": {"sql": sql}, "schema": schema}
            for name, (sql, schema) in sorted(tables.items())
        },
        "functions": dict(sorted((functions or {}).items())),
    }


def canonical_json(manifest: dict[str, Any]) -> str:
    """serde_json's compact serialization of the typed manifest (what Amp hashes)."""
    return json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)


def manifest_hash(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(manifest).encode()).hexdigest()
