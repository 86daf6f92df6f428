"""Amp's dataset reference grammar (PROTOCOL §2.3), for validating `dependencies` configs.

This follows Amp's `datasets-common` crate, not a regex approximation of it. `Reference::from_str`
splits at the first `@` and the first `/`. A namespace is `[a-z0-9_]`, where digits are any Unicode
number (Rust's `char::is_numeric`); a name is the same with a first character in `[a-z_]`. A revision
is `latest`, `dev`, 64 hex digits (a manifest hash, either case) or a version as the `semver` crate
parses it: ASCII digits, no leading zeros in numbers or numeric pre-release identifiers, numbers
that fit in 64 bits. The cases live in tests/data/dataset_references.csv, which amp_local's parser
is tested against too.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

_NUMBER_CATEGORIES = ("Nd", "Nl", "No")  # Rust's char::is_numeric
_LOWER = frozenset(string.ascii_lowercase + "_")
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    rf"(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?"
)
_U64_MAX = 2**64 - 1
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
EXAMPLE = "'_/eth_firehose@1.0.0'"


def _is_name_char(char: str) -> bool:
    return char in _LOWER or unicodedata.category(char) in _NUMBER_CATEGORIES


def _namespace_error(namespace: str) -> str | None:
    if not namespace:
        return "the namespace is empty"
    bad = next((c for c in namespace if not _is_name_char(c)), None)
    return f"invalid character {bad!r} in namespace {namespace!r}" if bad else None


def _name_error(name: str) -> str | None:
    if not name:
        return "the dataset name is empty"
    if name[0] not in _LOWER:
        return f"dataset name {name!r} must start with a lower-case letter or '_'"
    bad = next((c for c in name if not _is_name_char(c)), None)
    return f"invalid character {bad!r} in dataset name {name!r}" if bad else None


def _revision_error(revision: str) -> str | None:
    if revision in ("latest", "dev"):
        return None
    if len(revision) == 64 and all(c in string.hexdigits for c in revision):
        return None
    if is_semver(revision):
        return None
    return (
        f"revision {revision!r} is not a semver version (no leading zeros), a 64-hex-digit "
        "manifest hash, 'latest' or 'dev'"
    )


def is_semver(text: str) -> bool:
    """A version as Amp's `semver` crate parses it (no leading zeros, numbers within u64)."""
    match = _SEMVER.fullmatch(text)
    return bool(match) and all(int(number) <= _U64_MAX for number in match.groups())


def is_alias(text: str) -> bool:
    """A dependency alias Amp accepts: a letter, then letters, digits or '_', 63 at most."""
    return bool(_ALIAS.fullmatch(text))


def parse_reference(text: str) -> tuple[str, str, str] | None:
    """(namespace, name, revision) of a full `namespace/name@revision`, or None."""
    if reference_error(text):
        return None
    fqn, _, revision = text.partition("@")
    namespace, _, name = fqn.partition("/")
    return namespace, name, revision


def reference_error(reference: str) -> str | None:
    """Why `reference` is not a full `namespace/name@revision`, or None if it is one."""
    fqn, at, revision = reference.partition("@")
    if not at:
        return "no '@revision'"
    namespace, slash, name = fqn.partition("/")
    if not slash:
        return "no 'namespace/'"
    return _namespace_error(namespace) or _name_error(name) or _revision_error(revision)


def validate_reference(reference: Any) -> str:
    why = reference_error(reference) if isinstance(reference, str) else "not a string"
    if why:
        raise ValueError(
            f"{reference!r} is not an Amp dataset reference ({why}): use "
            f"'namespace/name@revision' with a semver version, a 64-hex manifest hash, 'latest' or "
            f"'dev' (e.g. {EXAMPLE}); namespace is [a-z0-9_]+, name is [a-z_][a-z0-9_]*"
        )
    return reference


def validate_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not is_alias(alias):
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
