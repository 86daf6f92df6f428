"""Deserializing Amp manifests the way Amp's serde types do (PROTOCOL §4.6, §5.1, §5.4).

Amp deserializes a manifest into typed structs before anything else; whatever does not fit is an
`INVALID_MANIFEST` error, and unknown keys are ignored (the TS SDK's `network` per table and `name`
per function are dropped this way). Canonical JSON and the manifest hash are `schemas.canonical_json`
and `schemas.manifest_hash`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

from amp_local.admin_errors import ManifestInvalid
from amp_local.references import (
    InvalidReference,
    is_hash,
    is_semver,
    valid_name,
    valid_namespace,
    validate_table_name,
)
from amp_local.schemas import schema_from_serde, type_from_serde

DERIVED_KIND = "manifest"
RAW_KINDS = ("evm-rpc", "firehose", "solana")
DEP_ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
FUNC_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
SELF = "self"


@dataclass(frozen=True)
class DepReference:
    """`namespace/name@<semver|hash>`: a pinned dependency of a derived manifest."""

    namespace: str
    name: str
    revision: str

    @classmethod
    def parse(cls, text: str) -> DepReference:
        """Parse like Amp's `DepReference`: namespace required, `latest`/`dev` rejected."""
        fqn, at, revision = text.rpartition("@")
        namespace, slash, name = fqn.partition("/")
        if not at or not slash:
            raise ValueError(
                f"invalid dependency reference '{text}': expected 'namespace/name@version' or "
                "'namespace/name@<manifest hash>'"
            )
        if not valid_namespace(namespace):
            raise ValueError(f"invalid namespace '{namespace}' in '{text}': use only [a-z0-9_]")
        if not valid_name(name):
            raise ValueError(
                f"invalid dataset name '{name}' in '{text}': must start with [a-z_] and contain "
                "only [a-z0-9_]"
            )
        if revision in ("latest", "dev"):
            raise ValueError(
                f"invalid dependency reference '{text}': dependencies must be pinned to a version "
                f"or a manifest hash, not '{revision}'"
            )
        if not (is_hash(revision) or is_semver(revision)):
            raise ValueError(
                f"invalid revision '{revision}' in '{text}': expected a semver version or a "
                "64-character manifest hash"
            )
        return cls(namespace, name, revision)

    @property
    def is_hash(self) -> bool:
        return bool(is_hash(self.revision))

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}@{self.revision}"


@dataclass(frozen=True)
class DerivedTable:
    name: str
    sql: str
    schema: pa.Schema


@dataclass
class DerivedManifest:
    """A derived manifest after deserialization (the JSON is kept for canonicalization)."""

    dependencies: dict[str, DepReference]
    tables: dict[str, DerivedTable]
    functions: dict[str, dict]
    raw: dict = field(repr=False)


def validate_dep_alias(alias: str) -> None:
    if alias == SELF or not DEP_ALIAS_RE.match(alias):
        raise ValueError(
            f"invalid dependency alias '{alias}': 1-63 characters, first [A-Za-z], rest "
            "[A-Za-z0-9_], and not the reserved 'self'"
        )


def parse_dependencies(dependencies: dict) -> dict[str, DepReference]:
    """A manifest's or schema request's `dependencies` (alias → pinned reference), checked like
    Amp's; raises ValueError with the `dependencies: ...` message Amp gives."""
    deps = {}
    for alias, text in dependencies.items():
        try:
            validate_dep_alias(alias)
            if not isinstance(text, str):
                raise ValueError(f"dependency '{alias}': expected a string reference")
            deps[alias] = DepReference.parse(text)
        except ValueError as exc:
            raise ValueError(f"dependencies: {exc}") from None
    return deps


def manifest_kind(obj: object) -> str:
    """The `kind` of a manifest object, checked against the kinds Amp accepts."""
    if not isinstance(obj, dict):
        raise ManifestInvalid(f"invalid type: expected a manifest object, got {_json_type(obj)}")
    kind = obj.get("kind")
    if kind is None:
        raise ManifestInvalid("missing field `kind`")
    if kind not in (DERIVED_KIND, *RAW_KINDS):
        raise ManifestInvalid(
            f"unknown variant `{kind}`, expected one of `{DERIVED_KIND}`, "
            + ", ".join(f"`{k}`" for k in RAW_KINDS)
        )
    return kind


def parse_derived(obj: object) -> DerivedManifest:
    """Deserialize a derived (`kind: "manifest"`) manifest; raises `ManifestInvalid`."""
    if manifest_kind(obj) != DERIVED_KIND:
        raise ManifestInvalid(f"expected kind `{DERIVED_KIND}`, got `{obj['kind']}`")
    try:
        deps = parse_dependencies(_map(obj, "dependencies"))
    except ValueError as exc:
        raise ManifestInvalid(str(exc)) from None
    tables = {}
    for name, spec in _map(obj, "tables").items():
        where = f"tables.{name}"
        try:
            validate_table_name(name)
        except InvalidReference as exc:
            raise ManifestInvalid(f"{where}: {exc}") from None
        spec = _object(spec, where)
        sql = _object(_field(spec, "input", where), f"{where}.input").get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise ManifestInvalid(
                f'{where}.input: expected {{"sql": "<non-empty SQL>"}} (the only table input)'
            )
        tables[name] = DerivedTable(name, sql, _table_schema(_field(spec, "schema", where), where))
    functions = {}
    for name, spec in _map(obj, "functions").items():
        functions[name] = _function(name, spec)
    return DerivedManifest(deps, tables, functions, obj)


def parse_raw(obj: object) -> dict:
    """Deserialize a raw (`evm-rpc`/`firehose`/`solana`) manifest; raises `ManifestInvalid`."""
    kind = manifest_kind(obj)
    if kind == DERIVED_KIND:
        raise ManifestInvalid("expected a raw dataset kind, got `manifest`")
    network = _field(obj, "network", "manifest")
    if not isinstance(network, str) or not network:
        raise ManifestInvalid("network: expected a non-empty string")
    start = obj.get("start_block", 0)
    if type(start) is not int or start < 0:
        raise ManifestInvalid("start_block: expected a non-negative integer")
    if not isinstance(obj.get("finalized_blocks_only", False), bool):
        raise ManifestInvalid("finalized_blocks_only: expected a boolean")
    tables = _field(obj, "tables", "manifest")
    for name, spec in _object(tables, "tables").items():
        where = f"tables.{name}"
        spec = _object(spec, where)
        _table_schema(_field(spec, "schema", where), where)
        if not isinstance(_field(spec, "network", where), str):
            raise ManifestInvalid(f"{where}.network: expected a string")
    return obj


# JS UDF argument/return types Amp accepts (PROTOCOL §5.4); decimals only with scale 0
_JS_UNITS = {
    "Null", "Boolean", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float16", "Float32", "Float64", "Date32", "Date64", "Utf8", "LargeUtf8", "Utf8View",
    "Binary", "LargeBinary", "BinaryView",
}  # fmt: skip


def _js_type(value: object, where: str) -> None:
    try:
        typ = type_from_serde(value)
    except (ValueError, TypeError, KeyError) as exc:
        raise ManifestInvalid(f"{where}: {exc}") from None
    if isinstance(value, str):
        if value not in _JS_UNITS:
            raise ManifestInvalid(f"{where}: Arrow type {value} is not supported by JS UDFs")
        return
    if pa.types.is_decimal(typ) and typ.scale != 0:
        raise ManifestInvalid(f"{where}: JS UDF decimals must have scale 0, got {typ}")


def _function(name: str, spec: object) -> dict:
    where = f"functions.{name}"
    if not FUNC_NAME_RE.match(name) or len(name.encode()) > 255:
        raise ManifestInvalid(
            f"{where}: invalid function name '{name}': 1-255 characters, first [A-Za-z_], rest "
            "[A-Za-z0-9_$]"
        )
    spec = _object(spec, where)
    inputs = _field(spec, "inputTypes", where)
    if not isinstance(inputs, list):
        raise ManifestInvalid(f"{where}.inputTypes: expected a list of Arrow types")
    for i, value in enumerate(inputs):
        _js_type(value, f"{where}.inputTypes[{i}]")
    _js_type(_field(spec, "outputType", where), f"{where}.outputType")
    source = _object(_field(spec, "source", where), f"{where}.source")
    for key in ("source", "filename"):
        if not isinstance(_field(source, key, f"{where}.source"), str):
            raise ManifestInvalid(f"{where}.source.{key}: expected a string")
    return spec


def _table_schema(value: object, where: str) -> pa.Schema:
    arrow = _object(_field(_object(value, f"{where}.schema"), "arrow", f"{where}.schema"), where)
    fields = _field(arrow, "fields", f"{where}.schema.arrow")
    if not isinstance(fields, list) or not fields:
        raise ManifestInvalid(f"{where}.schema.arrow.fields: expected at least one field")
    for i, item in enumerate(fields):
        spec = _object(item, f"{where}.schema.arrow.fields[{i}]")
        for key in ("name", "type", "nullable"):
            _field(spec, key, f"{where}.schema.arrow.fields[{i}]")
        if not isinstance(spec["name"], str) or not isinstance(spec["nullable"], bool):
            raise ManifestInvalid(
                f"{where}.schema.arrow.fields[{i}]: expected a string name and a boolean nullable"
            )
    try:
        return schema_from_serde(value)
    except (ValueError, TypeError, KeyError) as exc:
        raise ManifestInvalid(f"{where}.schema: {exc}") from None


def _json_type(value: object) -> str:
    return {dict: "map", list: "sequence", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else "number"
    )


def _object(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where}: invalid type: {_json_type(value)}, expected a map")
    return value


def _field(obj: dict, key: str, where: str) -> object:
    if key not in obj:
        raise ManifestInvalid(f"{where}: missing field `{key}`")
    return obj[key]


def _map(obj: dict, key: str) -> dict:
    value = obj.get(key)
    return {} if value is None else _object(value, key)
