""" "Did you mean …": close names for two common slips, a `ref()` to a name that does not exist and
a field that a decoded event struct does not have."""

from __future__ import annotations

import difflib
import re
from typing import Any

from dbt.adapters.amp.evm_signatures import EventSignatureError, parse_event_signature

# Amp's planning error for `struct['name']` with no such field (DataFusion's get_field)
MISSING_FIELD_RE = re.compile(r"Field (?P<field>\S+) not found in struct")
# an event signature as a SQL string literal: 'Transfer(address indexed from, ...)'
SIGNATURE_RE = re.compile(r"'(?P<name>[A-Za-z_][A-Za-z0-9_]*)\((?P<params>[^']*)\)'")


def _close(name: str, candidates: list[str], n: int = 3) -> list[str]:
    by_lower = {c.lower(): c for c in candidates}
    return [by_lower[m] for m in difflib.get_close_matches(name.lower(), by_lower, n, 0.6)]


def ref_suggestion(manifest: Any, node: Any, name: str, aliases: dict[str, str]) -> str:
    """' Did you mean …?' for `ref(name)` that names no model, seed or snapshot: the closest
    refable nodes, the node's dependency aliases, and sources (which take `source()`)."""
    options: dict[str, str] = {}
    for candidate in getattr(manifest, "nodes", {}).values():
        if candidate.resource_type in ("model", "seed", "snapshot"):
            options.setdefault(
                candidate.name, f"ref('{candidate.name}') ({candidate.resource_type})"
            )
    for alias, reference in aliases.items():
        options[alias] = f"ref('{alias}') (dependency alias of this node: '{reference}')"
    sources: dict[str, str] = {}
    for source in getattr(manifest, "sources", {}).values():
        call = f"source('{source.source_name}', '{source.name}')"
        sources.setdefault(source.name, call)
        sources.setdefault(f"{source.source_name}.{source.name}", call)
    hints = [options[m] for m in _close(name, list(options))]
    hints += [f"{sources[m]} (a source table)" for m in _close(name, list(sources), 2)]
    if name in sources and sources[name] not in " ".join(hints):
        hints.insert(0, f"{sources[name]} (a source table)")
    return f" Did you mean {', or '.join(dict.fromkeys(hints))}?" if hints else ""


def event_fields(sql: str) -> dict[str, list[str]]:
    """{signature: parameter names} of the event signatures written as literals in `sql`
    (string literals that parse as one; evm_signatures.py is the one parser)."""
    found: dict[str, list[str]] = {}
    for match in SIGNATURE_RE.finditer(sql):
        signature = f"{match['name']}({match['params']})"
        try:
            found[signature] = [param.name for param in parse_event_signature(signature)]
        except EventSignatureError:
            continue
    return found


def struct_field_hint(message: str, sql: str) -> str:
    """For Amp's "Field x not found in struct": the fields of the events decoded in `sql`."""
    missing = MISSING_FIELD_RE.search(message or "")
    if not missing:
        return ""
    field = missing["field"].strip("'\"")
    events = event_fields(sql or "")
    if not events:
        return (
            f" The struct has no field '{field}': select arrow_typeof(<the struct>) to see its "
            "fields."
        )
    listed = "; ".join(f"{sig}: {', '.join(names)}" for sig, names in events.items())
    close = _close(field, [n for names in events.values() for n in names], 1)
    guess = f" Did you mean '{close[0]}'?" if close else ""
    return (
        f" The decoded event structs in this query have these fields: {listed}.{guess} Field "
        "names are case-sensitive: write ev['amount0In'] (unquoted names are lower-cased)."
    )


_NOT_SYNCED_RE = re.compile(r"Table (?P<ref>\S+/\S+@\S+?)\.\s*(?P<table>\w+) has not been synced")
_DATASET_TABLE_NOT_FOUND_RE = re.compile(
    r"table '(?:amp\.)?(?P<ref>[^'/]+/[^'@]+@[^'.]+)\.(?P<table>[^']+)' not found"
)


def dataset_table_hint(message: str) -> str:
    """For a dataset table Amp has not materialized, or does not know: what to do about it."""
    synced = _NOT_SYNCED_RE.search(message or "")
    if synced:
        return (
            f". The dataset {synced['ref']} is registered, but no job has materialized its table "
            f"'{synced['table']}' yet: deploy it (a dataset model with deploy: true, and wait: true "
            "to wait for its rows), or resume its job (amp-dbt-monitor jobs resume <model>)"
        )
    missing = _DATASET_TABLE_NOT_FOUND_RE.search(message or "")
    if missing:
        return (
            f". Amp has no dataset table {missing['ref']}.{missing['table']}: if it is a dataset "
            "model of this project, build it first (dbt run -s <model>, with deploy: true); "
            "otherwise check the reference (namespace/name@version) and the table name"
        )
    return ""
