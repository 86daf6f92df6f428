"""The dataset store: which datasets exist, their revisions, their tables and what data is synced.

A raw dataset is a folder in the layout of Amp's snapshots (`manifest.json` plus one folder of parquet
files per table). Revisions follow Amp: semver tags, a `dev` tag, manifest hashes, and `latest` = the
highest semver tag.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from amp_local.references import DatasetReference, revision_kind, semver_key
from amp_local.schemas import RAW_SCHEMAS, manifest_hash, schema_from_serde
from amp_local.segments import block_info, synced_range

BLOCK_NUM_FIELD = pa.field("_block_num", pa.uint64(), nullable=False)


def with_block_num(schema: pa.Schema) -> pa.Schema:
    """Amp prepends `_block_num` to every table; some published manifests leave it out."""
    if "_block_num" in schema.names:
        return schema
    return schema.insert(0, BLOCK_NUM_FIELD)


def raw_table_schema(kind: str, table: str, spec: dict, directory: Path) -> pa.Schema:
    """The schema a raw table is served with: its parquet files' (the data is what Amp wrote),
    else Amp's schema for that kind and table, else the manifest's. Published manifests can lag
    behind the extractor (e.g. the firehose snapshot's manifest lacks `_block_num`)."""
    first = next(iter(sorted(directory.glob("*.parquet"))), None) if directory.is_dir() else None
    if first is not None:
        return with_block_num(pq.read_schema(first).remove_metadata())
    if table in RAW_SCHEMAS.get(kind, {}):
        return RAW_SCHEMAS[kind][table]
    return with_block_num(schema_from_serde(spec["schema"]))


class DatasetNotFound(LookupError):
    """No dataset (or no such revision) under that reference."""


@dataclass(frozen=True)
class BlockRange:
    """A synced block range of one network, as Amp sends it in `app_metadata`."""

    network: str
    start: int
    end: int
    hash: str
    prev_hash: str
    timestamp: int | None

    def to_json(self) -> dict:
        out = {
            "numbers": {"start": self.start, "end": self.end},
            "network": self.network,
            "hash": self.hash,
            "prev_hash": self.prev_hash,
        }
        if self.timestamp is not None:
            out["timestamp"] = self.timestamp
        return out


@dataclass
class Table:
    name: str
    schema: pa.Schema
    network: str
    directory: Path | None  # None: registered but never synced


@dataclass
class Dataset:
    namespace: str
    name: str
    kind: str
    manifest: dict
    manifest_hash: str
    tables: dict[str, Table]
    network: str | None = None
    start_block: int = 0
    finalized_blocks_only: bool = False
    # derived datasets: the raw dataset whose `blocks` table has this network's block hashes
    blocks_source: Dataset | None = None

    @property
    def ref_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def hash_reference(self) -> str:
        """`namespace/name@<manifest hash>`, how Amp names a dataset revision in errors."""
        return f"{self.ref_name}@{self.manifest_hash}"

    def table_state(self) -> tuple:
        """Which tables exist and where their data is: changes when a table is added or synced."""
        return tuple((name, table.directory) for name, table in self.tables.items())


class Synced(NamedTuple):
    dataset: Dataset
    table: Table
    span: tuple[int, int] | None  # synced (first, last) block, None: no data


@dataclass
class _Versions:
    tags: dict[str, str] = field(default_factory=dict)  # semver -> manifest hash
    dev: str | None = None

    def latest(self) -> str | None:
        if not self.tags:
            return None
        return max(self.tags, key=semver_key)


class DatasetStore:
    """All datasets `amp_local` serves, addressable by Amp's reference grammar. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # (namespace, name, manifest hash) -> revision: Amp keys physical data by dataset + hash
        self._revisions: dict[tuple[str, str, str], Dataset] = {}
        self._versions: dict[tuple[str, str], _Versions] = {}

    def add_raw_dataset(
        self, namespace: str, name: str, version: str | None, directory: Path
    ) -> Dataset:
        """Register a folder holding a raw dataset (manifest.json + <table>/*.parquet)."""
        directory = Path(directory)
        manifest_path = directory / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{manifest_path} is missing: a raw dataset folder needs it")
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError as exc:
            raise ValueError(f"{manifest_path} is not valid JSON: {exc}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
            raise ValueError(f"{manifest_path} is not a raw dataset manifest (no 'tables' map)")
        network = manifest.get("network", "mainnet")
        kind = manifest.get("kind", "evm-rpc")
        tables = {
            table_name: Table(
                table_name,
                raw_table_schema(kind, table_name, spec, directory / table_name),
                spec.get("network", network),
                directory / table_name,
            )
            for table_name, spec in manifest.get("tables", {}).items()
        }
        dataset = Dataset(
            namespace=namespace,
            name=name,
            kind=kind,
            manifest=manifest,
            manifest_hash=manifest_hash(manifest),
            tables=tables,
            network=network,
            start_block=int(manifest.get("start_block", 0) or 0),
            finalized_blocks_only=bool(manifest.get("finalized_blocks_only", False)),
        )
        self.register(dataset, version)
        return dataset

    def register(self, dataset: Dataset, version: str | None) -> None:
        """Link a manifest to namespace/name; tag it with `version` (semver) or only move `dev`."""
        key = (dataset.namespace, dataset.name, dataset.manifest_hash)
        with self._lock:
            existing = self._revisions.get(key)
            if existing is not None and existing.tables != dataset.tables:
                raise ValueError(
                    f"{dataset.ref_name}: manifest {dataset.manifest_hash[:12]}… is already "
                    "registered with other data; give the dataset another name or manifest"
                )
            self._revisions[key] = dataset
            versions = self._versions.setdefault((dataset.namespace, dataset.name), _Versions())
            versions.dev = dataset.manifest_hash
            if version is not None:
                if revision_kind(version) != "semver":
                    raise ValueError(f"version tags must be semver, got '{version}'")
                versions.tags[version] = dataset.manifest_hash

    def add_revision(self, dataset: Dataset) -> Dataset:
        """Make a dataset revision addressable by hash without touching its tags; returns the
        revision already known under that (namespace, name, hash), if any."""
        key = (dataset.namespace, dataset.name, dataset.manifest_hash)
        with self._lock:
            existing = self._revisions.setdefault(key, dataset)
            self._versions.setdefault((dataset.namespace, dataset.name), _Versions())
            return existing

    def revision(self, namespace: str, name: str, digest: str) -> Dataset | None:
        with self._lock:
            return self._revisions.get((namespace, name, digest))

    def set_tags(self, namespace: str, name: str, tags: dict[str, str], dev: str | None) -> None:
        """Replace a dataset's semver tags and `dev` (the Admin API's registry is their owner)."""
        with self._lock:
            self._versions[(namespace, name)] = _Versions(dict(tags), dev)

    def remove(self, namespace: str, name: str) -> None:
        """Forget a dataset: its tags and every revision linked to it."""
        with self._lock:
            self._versions.pop((namespace, name), None)
            for key in [k for k in self._revisions if k[:2] == (namespace, name)]:
                del self._revisions[key]

    def resolve(self, ref: DatasetReference) -> Dataset:
        with self._lock:
            versions = self._versions.get((ref.namespace, ref.name))
            if versions is None:
                raise DatasetNotFound(f"dataset '{ref.namespace}/{ref.name}' not found")
            kind = revision_kind(ref.revision)
            if kind == "latest":
                latest = versions.latest()
                if latest is None:
                    raise DatasetNotFound(
                        f"dataset '{ref.namespace}/{ref.name}' has no version tag, so '@latest' "
                        "does not resolve (only '@dev' exists)"
                    )
                digest = versions.tags[latest]
            elif kind == "dev":
                digest = versions.dev
            elif kind == "semver":
                digest = versions.tags.get(ref.revision)
            else:
                digest = ref.revision
            dataset = self._revisions.get((ref.namespace, ref.name, digest or ""))
            if dataset is None:
                raise DatasetNotFound(f"dataset revision '{ref}' not found")
            return dataset

    def datasets(self) -> Iterable[tuple[str, str, dict[str, str], str | None]]:
        with self._lock:
            for (namespace, name), versions in sorted(self._versions.items()):
                yield namespace, name, dict(versions.tags), versions.dev

    # --- synced ranges --------------------------------------------------------------------

    @staticmethod
    def table_range(table: Table) -> tuple[int, int] | None:
        """Synced `_block_num` range of a table, from its parquet segments."""
        if table.directory is None:
            return None
        return synced_range(table.directory)

    def snapshot(self, tables: list[tuple[Dataset, Table]]) -> list[Synced]:
        """Each table's synced range right now: what a query is run over and described by."""
        return [Synced(dataset, table, self.table_range(table)) for dataset, table in tables]

    def block_range(self, snapshot: list[Synced]) -> list[BlockRange]:
        """Per-network intersection of the synced ranges in `snapshot` (Amp's `common_ranges`)."""
        by_network: dict[str, tuple[int, int]] = {}
        for _, table, span in snapshot:
            if span is None:
                return []
            if table.network in by_network:
                lo, hi = by_network[table.network]
                span = (max(lo, span[0]), min(hi, span[1]))
            by_network[table.network] = span
        if any(start > end for start, end in by_network.values()):
            return []
        tables = [(dataset, table) for dataset, table, _ in snapshot]
        return [
            self.describe_range(tables, network, start, end)
            for network, (start, end) in sorted(by_network.items())
        ]

    def describe_range(
        self, tables: list[tuple[Dataset, Table]], network: str, start: int, end: int
    ) -> BlockRange:
        """A `BlockRange` for blocks start..end of `network`, hashes read from a `blocks` table."""
        source = next(
            (d for d, t in tables if t.network == network and "blocks" in d.tables), None
        ) or next((d.blocks_source for d, t in tables if t.network == network), None)
        end_hash, _, end_ts = self._block_info(source, end)
        _, prev_hash, _ = self._block_info(source, start)
        return BlockRange(
            network, start, end, "0x" + end_hash.hex(), "0x" + prev_hash.hex(), end_ts
        )

    @staticmethod
    def _block_info(dataset: Dataset | None, number: int) -> tuple[bytes, bytes, int | None]:
        """(hash, parent hash, unix timestamp) of a block, from the dataset's `blocks` table."""
        blocks = dataset.tables.get("blocks") if dataset else None
        info = block_info(blocks.directory, number) if blocks and blocks.directory else None
        if info is None:
            return bytes(32), bytes(32), None
        return info.hash, info.parent_hash, info.timestamp
