"""Amp's dataset reference grammar (PROTOCOL §2.2-2.3): `[namespace/]name[@revision]`.

Validation mirrors `datasets-common` in Amp: namespaces `[a-z0-9_]` and names `[a-z_][a-z0-9_]*`, where
digits are any Unicode number (Rust's `char::is_numeric`); revisions `latest`, `dev`, a 64-hex-digit
hash (either case) or a version as the `semver` crate parses it (ASCII digits, no leading zeros in
numbers or numeric pre-release identifiers, numbers within u64). A missing namespace means `_`, a
missing revision means `latest`. tests/data/dataset_references.csv holds the cases.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

HASH_RE = re.compile(r"[0-9a-fA-F]{64}")
SEMVER_RE = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
U64_MAX = 2**64 - 1
TABLE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")
GLOBAL_NAMESPACE = "_"
LOWER = frozenset("abcdefghijklmnopqrstuvwxyz_")


def _name_char(char: str) -> bool:
    """`[a-z_]` or any Unicode number, as Amp's `c.is_ascii_lowercase() || c == '_' ||
    c.is_numeric()`."""
    return char in LOWER or unicodedata.category(char) in ("Nd", "Nl", "No")


def valid_namespace(namespace: str) -> bool:
    return bool(namespace) and all(_name_char(c) for c in namespace)


def valid_name(name: str) -> bool:
    return bool(name) and name[0] in LOWER and all(_name_char(c) for c in name)


def _semver(version: str) -> re.Match | None:
    match = SEMVER_RE.fullmatch(version)
    if match and all(int(n) <= U64_MAX for n in match.groups()[:3]):
        return match
    return None


def is_semver(version: str) -> bool:
    """A version as Amp's `semver` crate parses it."""
    return _semver(version) is not None


def is_hash(revision: str) -> bool:
    """64 hex digits, either case: a manifest hash."""
    return HASH_RE.fullmatch(revision) is not None


class InvalidReference(ValueError):
    """A schema part that is not a valid `[ns/]name[@rev]`."""


def revision_kind(revision: str) -> str:
    """`semver`, `hash`, `latest` or `dev`; raises for anything else."""
    if revision in ("latest", "dev"):
        return revision
    if is_hash(revision):
        return "hash"
    if is_semver(revision):
        return "semver"
    raise InvalidReference(
        f"invalid revision '{revision}': expected a semver version, a 64-character manifest hash, "
        "'latest' or 'dev'"
    )


def semver_key(version: str) -> tuple:
    """Sort key for semver tags (release > pre-release, numeric identifiers numerically)."""
    m = _semver(version)
    if not m:
        raise InvalidReference(f"invalid semver '{version}'")
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


@dataclass(frozen=True)
class DatasetReference:
    namespace: str
    name: str
    revision: str

    @classmethod
    def parse(cls, text: str) -> DatasetReference:
        """Parse `[ns/]name[@rev]` the way Amp's `PartialReference` does."""
        rest, _, revision = text.partition("@")
        if "@" in text and not revision:
            raise InvalidReference(f"invalid dataset reference '{text}': empty revision")
        namespace, slash, name = rest.partition("/")
        if not slash:
            namespace, name = GLOBAL_NAMESPACE, namespace
        if not valid_namespace(namespace):
            raise InvalidReference(
                f"invalid namespace '{namespace}' in '{text}': use only [a-z0-9_]"
            )
        if not valid_name(name):
            raise InvalidReference(
                f"invalid dataset name '{name}' in '{text}': must start with [a-z_] and contain "
                "only [a-z0-9_]"
            )
        revision = revision or "latest"
        revision_kind(revision)
        return cls(namespace, name, revision)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}@{self.revision}"


def validate_table_name(name: str) -> None:
    if not TABLE_NAME_RE.fullmatch(name):
        raise InvalidReference(
            f"invalid table name '{name}': 1-63 characters, first [A-Za-z_], rest [A-Za-z0-9_$]"
        )
