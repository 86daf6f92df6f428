"""Amp's dataset reference grammar (PROTOCOL §2.3), for validating `dependencies` configs."""

from __future__ import annotations

import re
from typing import Any

NAMESPACE = r"[a-z0-9_]+"
NAME = r"[a-z_][a-z0-9_]*"
SEMVER = (
    r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
SEMVER_RE = re.compile(rf"^{SEMVER}$")
REVISION = rf"(?:{SEMVER}|[0-9a-f]{{64}}|latest|dev)"
REFERENCE_RE = re.compile(
    rf"^(?P<namespace>{NAMESPACE})/(?P<name>{NAME})@(?P<revision>{REVISION})$"
)
ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
EXAMPLE = "'_/eth_firehose@1.0.0'"


def validate_reference(reference: Any) -> str:
    if not isinstance(reference, str) or not REFERENCE_RE.match(reference):
        raise ValueError(
            f"{reference!r} is not an Amp dataset reference: use 'namespace/name@revision' "
            f"with a semver version, a 64-hex manifest hash, 'latest' or 'dev' (e.g. {EXAMPLE}); "
            "namespace is [a-z0-9_]+, name is [a-z_][a-z0-9_]*"
        )
    return reference


def validate_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not ALIAS_RE.match(alias):
        raise ValueError(
            f"alias {alias!r} is not valid: start with a letter, then letters, digits or '_' "
            "(at most 63 characters)"
        )
    if alias == "self":
        raise ValueError("alias 'self' is reserved by Amp (it names the dataset's own tables)")
    return alias


def validate_dependencies(value: Any) -> dict[str, str]:
    """{alias: reference} from a `dependencies` config; empty/None means no dependencies."""
    if value is None or value == "" or value == {}:
        return {}
    if not isinstance(value, dict):
        raise ValueError(
            f"expected a mapping of alias to dataset reference, e.g. {{'eth': {EXAMPLE}}}, "
            f"got {type(value).__name__} {value!r}"
        )
    return {validate_alias(alias): validate_reference(ref) for alias, ref in value.items()}
