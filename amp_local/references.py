"""Amp's dataset reference grammar (PROTOCOL §2.2-2.3): `[namespace/]name[@revision]`.

Validation mirrors `datasets-common` in Amp: lowercase namespaces and names, semver / 64-hex hash /
`latest` / `dev` revisions. A missing namespace means `_`, a missing revision means `latest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMESPACE_RE = re.compile(r"^[a-z0-9_]+$")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
HASH_RE = re.compile(r"^[0-9a-f]{64}$")
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
TABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
GLOBAL_NAMESPACE = "_"


class InvalidReference(ValueError):
    """A schema part that is not a valid `[ns/]name[@rev]`."""


def revision_kind(revision: str) -> str:
    """`semver`, `hash`, `latest` or `dev`; raises for anything else."""
    if revision in ("latest", "dev"):
        return revision
    if HASH_RE.match(revision):
        return "hash"
    if SEMVER_RE.match(revision):
        return "semver"
    raise InvalidReference(
        f"invalid revision '{revision}': expected a semver version, a 64-character manifest hash, "
        "'latest' or 'dev'"
    )


def semver_key(version: str) -> tuple:
    """Sort key for semver tags (release > pre-release, numeric identifiers numerically)."""
    m = SEMVER_RE.match(version)
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
        namespace, slash, name = rest.rpartition("/")
        if not slash:
            namespace = GLOBAL_NAMESPACE
        if not NAMESPACE_RE.match(namespace):
            raise InvalidReference(
                f"invalid namespace '{namespace}' in '{text}': use only [a-z0-9_]"
            )
        if not NAME_RE.match(name):
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
    if not TABLE_NAME_RE.match(name):
        raise InvalidReference(
            f"invalid table name '{name}': 1-63 characters, first [A-Za-z_], rest [A-Za-z0-9_$]"
        )
