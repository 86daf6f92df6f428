"""The dataset registry behind the Admin API: manifests, links, tags, revisions (PROTOCOL §6.2, §6.7).

The metadata database (`metadata.py`) is the record; the `DatasetStore` the query engine reads is kept
in step with it, so a registered derived dataset is queryable as `"ns/name@rev".table` at once (and
reports "has not been synced" until a job gives its tables data). Raw datasets served from folders
(`--dataset`, the synthetic chain) are recorded here too, so the Admin API lists and resolves them
like any registered dataset.

Physical data of a derived dataset lives under `<data dir>/<namespace>/<name>/<manifest hash>/<table>/`
(Amp keys physical tables by dataset and manifest hash); a table has data once a job created that
folder, which survives restarts.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from amp_local.admin_errors import ApiError, ManifestInvalid, api_error
from amp_local.datasets import Dataset, DatasetStore, Table, with_block_num
from amp_local.derived import Failure, analyse, registration_error
from amp_local.manifests import (
    DERIVED_KIND,
    DepReference,
    manifest_kind,
    parse_derived,
    parse_raw,
)
from amp_local.metadata import MetadataDb, VersionTag
from amp_local.references import revision_kind, semver_key
from amp_local.schemas import canonical_json, manifest_hash, schema_from_serde

log = logging.getLogger("amp_local.registry")


class Registry:
    """Registers, resolves and removes datasets; thread-safe."""

    def __init__(self, store: DatasetStore, db: MetadataDb, data_dir: Path) -> None:
        self.store = store
        self.db = db
        self.data_dir = Path(data_dir)
        self._lock = threading.RLock()

    # --- start-up ---------------------------------------------------------------------------

    def adopt_store(self) -> None:
        """Record the datasets the server was started with (raw folders) as registered."""
        for namespace, name, tags, _dev in list(self.store.datasets()):
            for version, digest in tags.items():
                dataset = self.store.revision(namespace, name, digest)
                self.db.put_manifest(digest, dataset.kind, canonical_json(dataset.manifest))
                self.db.link(namespace, name, digest)
                self.db.set_version(namespace, name, version, digest)

    def load(self) -> None:
        """Make every registered revision queryable and restore tags (after a restart)."""
        with self._lock:
            for namespace, name, digest in self.db.links():
                if self.store.revision(namespace, name, digest) is None:
                    try:
                        self.store.add_revision(self._build(namespace, name, digest))
                    except LookupError as exc:  # a dependency was deleted since
                        log.warning("%s/%s@%s is not queryable: %s", namespace, name, digest, exc)
            for namespace, name in self.db.datasets():
                self._sync_tags(namespace, name)

    # --- revisions --------------------------------------------------------------------------

    def resolve(self, namespace: str, name: str, revision: str) -> str | None:
        """The manifest hash a revision (semver, hash, `latest`, `dev`) names, if any."""
        kind = revision_kind(revision)
        if kind == "dev":
            return self.db.dev(namespace, name)
        tags = {t.version: t.hash for t in self.db.versions(namespace, name)}
        if kind == "latest":
            return tags[max(tags, key=semver_key)] if tags else None
        if kind == "semver":
            return tags.get(revision)
        return revision if self.db.is_linked(namespace, name, revision) else None

    def dataset(self, namespace: str, name: str, digest: str) -> Dataset:
        """The queryable revision of a linked manifest."""
        dataset = self.store.revision(namespace, name, digest)
        if dataset is None:
            with self._lock:
                dataset = self.store.add_revision(self._build(namespace, name, digest))
        return dataset

    def table_dir(self, dataset: Dataset, table: str) -> Path:
        return self.data_dir / dataset.namespace / dataset.name / dataset.manifest_hash / table

    def activate(self, dataset: Dataset) -> None:
        """Give a derived dataset's tables their physical folders (Amp creates the table
        revisions when the job is scheduled), so queries see them as synced."""
        for name, table in dataset.tables.items():
            if table.directory is None:
                directory = self.table_dir(dataset, name)
                directory.mkdir(parents=True, exist_ok=True)
                table.directory = directory

    def dependencies(self, manifest: dict) -> dict[str, Dataset]:
        """A derived manifest's aliases bound to the revisions they are pinned to."""
        out = {}
        for alias, text in (manifest.get("dependencies") or {}).items():
            ref = DepReference.parse(text)
            digest = self.resolve(ref.namespace, ref.name, ref.revision)
            if digest is None:
                raise LookupError(f"dependency '{alias}' ({text}) is not registered")
            out[alias] = self.dataset(ref.namespace, ref.name, digest)
        return out

    # --- registration -----------------------------------------------------------------------

    def store_manifest(self, manifest: object) -> tuple[str, str]:
        """Validate, canonicalize and store a manifest; returns (hash, kind). Raises `ApiError`
        (`INVALID_MANIFEST`, `MANIFEST_VALIDATION_ERROR`)."""
        try:
            kind = manifest_kind(manifest)
            if kind == DERIVED_KIND:
                parsed = parse_derived(manifest)
                self._validate_derived(parsed)
            else:
                parse_raw(manifest)
        except ManifestInvalid as exc:
            raise api_error(400, "INVALID_MANIFEST", "invalid manifest", str(exc)) from None
        content = canonical_json(manifest)
        digest = manifest_hash(manifest)
        self.db.put_manifest(digest, kind, content)
        return digest, kind

    def _validate_derived(self, parsed) -> None:
        """`validate_derived_manifest`: dependencies resolve, SQL plans and is incremental."""
        aliases = {}
        for alias, ref in parsed.dependencies.items():
            digest = self.resolve(ref.namespace, ref.name, ref.revision)
            if digest is None:
                raise _validation(f"Dependency '{alias}' not found ({ref})")
            aliases[alias] = self.dataset(ref.namespace, ref.name, digest)
        this = scratch_dataset(aliases)
        declared = {name: t.schema for name, t in parsed.tables.items()}
        try:
            analyse(
                self.store,
                aliases,
                {name: t.sql for name, t in parsed.tables.items()},
                this,
                check_aliases=True,
                sibling_schema=lambda name, _inferred: with_block_num(declared[name]),
            )
        except Failure as failure:
            raise _validation(*registration_error(failure)) from None

    def register(self, namespace: str, name: str, version: str | None, manifest: object) -> dict:
        """`POST /datasets`: store (or find) the manifest, link it (moving `dev`), tag it."""
        with self._lock:
            if isinstance(manifest, str):
                digest = manifest.lower()
                if self.db.manifest(digest) is None:
                    raise api_error(
                        404, "MANIFEST_NOT_FOUND", f"manifest with hash '{digest}' not found"
                    )
            else:
                digest, _ = self.store_manifest(manifest)
            self.db.link(namespace, name, digest)
            if version is not None:
                self.db.set_version(namespace, name, version, digest)
            dataset = self.dataset(namespace, name, digest)
            self._sync_tags(namespace, name)
        response = {"namespace": namespace, "name": name}
        if version is not None:
            response["version"] = version
        return response | {
            "manifest_hash": digest,
            "kind": dataset.kind,
            "start_block": dataset.start_block,
            "finalized_blocks_only": dataset.finalized_blocks_only,
            "tables": sorted(dataset.tables),
        }

    # --- reads ------------------------------------------------------------------------------

    def list_datasets(self) -> list[dict]:
        """`GET /datasets`: datasets with at least one version tag, by namespace and name."""
        out = []
        for namespace, name in self.db.datasets():
            versions = self._sorted_versions(namespace, name)
            if not versions:
                continue
            out.append(
                {
                    "namespace": namespace,
                    "name": name,
                    "latest_version": versions[0].version,
                    "versions": [v.version for v in versions],
                }
            )
        return out

    def versions(self, namespace: str, name: str) -> dict:
        versions = self._sorted_versions(namespace, name)
        special = {}
        if versions:
            special["latest"] = versions[0].version
        dev = self.db.dev(namespace, name)
        if dev is not None:
            special["dev"] = dev
        return {
            "namespace": namespace,
            "name": name,
            "versions": [
                {
                    "version": v.version,
                    "manifest_hash": v.hash,
                    "created_at": v.created_at,
                    "updated_at": v.updated_at,
                }
                for v in versions
            ],
            "special_tags": special,
        }

    def manifest_json(self, digest: str) -> dict:
        stored = self.db.manifest(digest)
        if stored is None:
            raise api_error(404, "MANIFEST_NOT_FOUND", f"Manifest with hash '{digest}' not found")
        return json.loads(stored[1])

    # --- removal ----------------------------------------------------------------------------

    def delete_dataset(self, namespace: str, name: str) -> None:
        with self._lock:
            self.db.unlink_dataset(namespace, name)
            self.store.remove(namespace, name)

    def delete_version(self, namespace: str, name: str, version: str) -> None:
        with self._lock:
            tags = {t.version: t.hash for t in self.db.versions(namespace, name)}
            if version not in tags:
                return
            latest = tags[max(tags, key=semver_key)]
            if latest == tags[version]:
                raise ApiError(
                    400,
                    "CANNOT_DELETE_LATEST_VERSION",
                    "Cannot delete version tagged as 'latest' - create a newer version first",
                )
            self.db.delete_version(namespace, name, version)
            self._sync_tags(namespace, name)

    # --- internals --------------------------------------------------------------------------

    def _sorted_versions(self, namespace: str, name: str) -> list[VersionTag]:
        return sorted(
            self.db.versions(namespace, name), key=lambda v: semver_key(v.version), reverse=True
        )

    def _sync_tags(self, namespace: str, name: str) -> None:
        tags = {t.version: t.hash for t in self.db.versions(namespace, name)}
        self.store.set_tags(namespace, name, tags, self.db.dev(namespace, name))

    def _build(self, namespace: str, name: str, digest: str) -> Dataset:
        """A queryable `Dataset` for a linked manifest that has no folder of its own."""
        kind, content = self.db.manifest(digest)
        manifest = json.loads(content)
        if kind != DERIVED_KIND:
            return Dataset(
                namespace,
                name,
                kind,
                manifest,
                digest,
                {
                    t: Table(
                        t, with_block_num(schema_from_serde(spec["schema"])), spec["network"], None
                    )
                    for t, spec in manifest["tables"].items()
                },
                manifest["network"],
                int(manifest.get("start_block", 0)),
                bool(manifest.get("finalized_blocks_only", False)),
            )
        deps = self.dependencies(manifest)
        network = _network(deps)
        dataset = Dataset(namespace, name, kind, manifest, digest, {}, network)
        dataset.blocks_source = _blocks_source(deps, network)
        for t, spec in manifest["tables"].items():
            directory = self.table_dir(dataset, t)
            schema = with_block_num(schema_from_serde(spec["schema"]))
            dataset.tables[t] = Table(
                t, schema, network or "", directory if directory.is_dir() else None
            )
        return dataset


def _validation(display: str, causes: tuple[str, ...] = ()) -> ApiError:
    return api_error(
        400, "MANIFEST_VALIDATION_ERROR", "Manifest validation error", display, *causes
    )


def scratch_dataset(aliases: dict[str, Dataset]) -> Dataset:
    """The dataset `self.` names while a manifest is validated: no data, tables added as planned."""
    return Dataset("_", "self", DERIVED_KIND, {}, "", {}, _network(aliases))


def _network(deps: dict[str, Dataset]) -> str | None:
    """A derived dataset's network: its dependencies' (derived manifests carry none)."""
    networks = sorted({d.network for d in deps.values() if d.network})
    return networks[0] if networks else None


def _blocks_source(deps: dict[str, Dataset], network: str | None) -> Dataset | None:
    for dep in deps.values():
        if dep.network == network and "blocks" in dep.tables and dep.kind != DERIVED_KIND:
            return dep
        if dep.blocks_source is not None and dep.network == network:
            return dep.blocks_source
    return None
