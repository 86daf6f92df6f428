"""Reading dbt's artifacts: target/manifest.json (models and their configs) and
target/run_results.json (what the last run did: dataset references, job ids).

Only the artifact versions dbt 1.11 writes are accepted (manifest v12, run-results v6), from a
project whose adapter is `amp`; anything else is one `ArtifactError` naming the file and the fix.
`ingest` writes both into state.db in one transaction, and skips files that have not changed
since the last ingest.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from amp_dbt_monitor import store
from amp_dbt_monitor.errors import ArtifactError, ConfigError

MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"
DEFAULT_ALERT_THRESHOLD_MINUTES = 30.0
DEFAULT_TRACK_COLUMN = "block_num"
# Every table of an Amp derived dataset has it (PROTOCOL §2.4), whatever the model selects.
DATASET_TRACK_COLUMN = "_block_num"
FAILED_RUN_STATUSES = frozenset({"error", "fail", "runtime error"})
_EXPECTED = {"manifest": MANIFEST_SCHEMA, "run_results": RUN_RESULTS_SCHEMA}
_HOW_TO_WRITE = {
    "manifest": "`dbt build`, `dbt run` or `dbt compile`",
    "run_results": "`dbt build` or `dbt run`",
}


@dataclass(frozen=True)
class Artifact:
    kind: str  # "manifest" | "run_results"
    path: Path
    fingerprint: str
    invocation_id: str | None
    generated_at: str | None
    dbt_version: str | None
    data: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class ModelSpec:
    """What the monitor needs of one model of the manifest."""

    model_id: str
    name: str
    materialized: str
    path: str
    tags: tuple[str, ...]
    tracked: bool
    track_column: str
    alert_threshold_minutes: float
    dataset_namespace: str | None = None
    dataset_name: str | None = None
    dataset_revision: str | None = None
    dataset_table: str | None = None
    end_block: str | None = None
    # the SQL the Flight probe reads, for tracked models that are not datasets (compiled SQL)
    probe_sql: str | None = None
    # the chain tables ("ns/name@rev", table) its data comes from, through other dataset models
    upstream: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """One model's result in run_results.json."""

    model_id: str
    status: str
    message: str | None
    completed_at: str | None
    job_id: int | None = None
    job_status: str | None = None
    manifest_hash: str | None = None
    dataset: str | None = None  # ns/name@manifest_hash of the deployed dataset
    end_block: str | None = None


@dataclass(frozen=True)
class IngestSummary:
    manifest: bool  # re-read this time
    run_results: bool
    models: int
    tracked: int


def fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{st.st_mtime_ns}:{st.st_size}"


def read_artifact(path: Path, kind: str) -> Artifact:
    """Load and check one artifact; one clear error if it is missing, corrupt or foreign."""
    how = _HOW_TO_WRITE[kind]
    try:
        stamp, text = fingerprint(path), path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(
            f"{path} does not exist: run {how} in the dbt project first (or pass --project-dir "
            "/ --target-path to point at it)"
        ) from None
    except OSError as exc:
        raise ArtifactError(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ArtifactError(
            f"{path} is not valid JSON ({exc}); it may have been cut short by an interrupted "
            f"run: run {how} again"
        ) from None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    version = metadata.get("dbt_schema_version") if isinstance(metadata, dict) else None
    if version != _EXPECTED[kind]:
        found = f"schema {version!r}" if version else "no dbt_schema_version"
        raise ArtifactError(
            f"{path} is not a dbt 1.11 {kind.replace('_', ' ')} artifact ({found}; expected "
            f"{_EXPECTED[kind]}): run {how} with the dbt-core 1.11 that dbt-amp installs"
        )
    adapter = metadata.get("adapter_type")
    if kind == "manifest" and adapter != "amp":
        raise ArtifactError(
            f"{path} was written for adapter {adapter!r}, not 'amp': point --project-dir at a "
            "dbt-amp project (profile `type: amp`) and run dbt there"
        )
    return Artifact(
        kind,
        path,
        stamp,
        metadata.get("invocation_id"),
        metadata.get("generated_at"),
        metadata.get("dbt_version"),
        data,
    )


# --- manifest -----------------------------------------------------------------------------------


def models_of(manifest: dict) -> list[ModelSpec]:
    """The manifest's models, with their monitoring configs and chain tables."""
    nodes = manifest.get("nodes") or {}
    models = [
        n for n in nodes.values() if isinstance(n, dict) and n.get("resource_type") == "model"
    ]
    datasets = {_dataset_key(n): n for n in models if _is_dataset(n)}
    sources = manifest.get("sources") or {}
    upstream_cache: dict[str, tuple[tuple[str, str], ...]] = {}
    specs = []
    for node in models:
        spec = _spec(node)
        if spec.tracked:
            upstream = _upstream(node, datasets, sources, upstream_cache, ())
            spec = replace(spec, upstream=upstream)
        specs.append(spec)
    return specs


def _config(node: dict) -> dict:
    config = node.get("config")
    return config if isinstance(config, dict) else {}


def _is_dataset(node: dict) -> bool:
    from dbt.adapters.amp.dataset_build import is_dataset_node

    return is_dataset_node(node)


def _dataset_key(node: dict) -> tuple[str, str]:
    """(namespace, dataset name) of a dataset model."""
    return node.get("schema") or "", _config(node).get("dataset_name") or node.get("name") or ""


def _spec(node: dict) -> ModelSpec:
    config = _config(node)
    label = f"model '{node.get('name')}' ({node.get('original_file_path', '?')})"
    dataset = _is_dataset(node)
    track = config.get("track_progress")
    tracked = _flag(track, label, "track_progress") if track is not None else dataset
    spec = ModelSpec(
        model_id=node["unique_id"],
        name=node.get("name") or node["unique_id"],
        materialized=str(config.get("materialized") or ""),
        path=node.get("original_file_path") or "",
        tags=tuple(sorted(str(t) for t in node.get("tags") or ())),
        tracked=tracked,
        track_column=_track_column(config, dataset, label),
        alert_threshold_minutes=_threshold(config, label),
    )
    if dataset:
        return replace(spec, **_dataset_fields(node, label))
    if tracked and node.get("compiled_code"):
        from dbt.adapters.amp.sql_text import strip_trailing_comments

        return replace(spec, probe_sql=strip_trailing_comments(node["compiled_code"]))
    return spec


def _dataset_fields(node: dict, label: str) -> dict[str, Any]:
    from dbt_common.exceptions import DbtRuntimeError

    from dbt.adapters.amp.dataset_build import DatasetSpec

    try:
        spec = DatasetSpec.of(node)
    except DbtRuntimeError as exc:
        raise ConfigError(f"{label}: {exc.msg}") from None
    return {
        "dataset_namespace": spec.namespace,
        "dataset_name": spec.name,
        "dataset_revision": spec.revision,
        "dataset_table": spec.table,
        "end_block": spec.end_block,
    }


def _flag(value: Any, label: str, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"{label}: {key} must be true or false, got {value!r}")


def _track_column(config: dict, dataset: bool, label: str) -> str:
    value = config.get("track_column")
    if value is None or value == "":
        return DATASET_TRACK_COLUMN if dataset else DEFAULT_TRACK_COLUMN
    if not isinstance(value, str) or '"' in value:
        raise ConfigError(f"{label}: track_column must be a column name, got {value!r}")
    return value


def _threshold(config: dict, label: str) -> float:
    value = config.get("alert_threshold_minutes")
    if value is None:
        return DEFAULT_ALERT_THRESHOLD_MINUTES
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        minutes = -1.0
    if isinstance(value, bool) or not minutes > 0:
        raise ConfigError(
            f"{label}: alert_threshold_minutes must be a positive number of minutes, got "
            f"{value!r} (set it with +alert_threshold_minutes in dbt_project.yml's models: "
            "tree or config(alert_threshold_minutes=...))"
        )
    return minutes


def _upstream(
    node: dict,
    datasets: dict[tuple[str, str], dict],
    sources: dict,
    cache: dict[str, tuple[tuple[str, str], ...]],
    seen: tuple[str, ...],
) -> tuple[tuple[str, str], ...]:
    """The chain tables a model's data comes from: the full dataset references in its compiled
    SQL (ephemeral models are inlined there), followed through the project's own dataset models
    to what those read. Without compiled SQL, its sources."""
    uid = node["unique_id"]
    if uid in cache:
        return cache[uid]
    if uid in seen:
        return ()
    pairs = _references(node.get("compiled_code")) if node.get("compiled_code") else None
    if pairs is None:
        pairs = _source_tables(node, sources)
    found: set[tuple[str, str]] = set()
    for reference, table in pairs:
        namespace, _, rest = reference.partition("/")
        inner = datasets.get((namespace, rest.partition("@")[0]))
        if inner is not None and inner["unique_id"] != uid:
            found.update(_upstream(inner, datasets, sources, cache, (*seen, uid)) or ())
        else:
            found.add((reference, table))
    cache[uid] = tuple(sorted(found))
    return cache[uid]


def _references(sql: str) -> set[tuple[str, str]]:
    """("ns/name@rev", table) pairs of the full references in `sql`."""
    from dbt.adapters.amp.manifests import rewrite_references, table_references

    rewritten, aliases = rewrite_references(sql, {})
    return {(aliases[alias], table) for alias, table in table_references(rewritten, aliases)}


def _source_tables(node: dict, sources: dict) -> set[tuple[str, str]]:
    from dbt.adapters.amp.references import parse_reference

    pairs = set()
    for uid in (node.get("depends_on") or {}).get("nodes") or ():
        source = sources.get(uid)
        if source and parse_reference(source.get("schema") or ""):
            pairs.add((source["schema"], source.get("identifier") or source.get("name")))
    return pairs


# --- run results --------------------------------------------------------------------------------


def runs_of(run_results: dict) -> list[RunRecord]:
    """The model results of a run (tests, seeds and the like are left out)."""
    records = []
    for result in run_results.get("results") or ():
        uid = result.get("unique_id") or ""
        if not uid.startswith("model."):
            continue
        response = result.get("adapter_response") or {}
        completed = [t.get("completed_at") for t in result.get("timing") or () if t]
        namespace, name, hash_ = (response.get(k) for k in ("namespace", "name", "manifest_hash"))
        records.append(
            RunRecord(
                model_id=uid,
                status=str(result.get("status") or ""),
                message=result.get("message"),
                completed_at=max((c for c in completed if c), default=None)
                or (run_results.get("metadata") or {}).get("generated_at"),
                job_id=_int(response.get("job_id")),
                job_status=response.get("job_status"),
                manifest_hash=hash_,
                dataset=f"{namespace}/{name}@{hash_}" if namespace and name and hash_ else None,
                end_block=response.get("end_block"),
            )
        )
    return records


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


# --- into state.db ------------------------------------------------------------------------------


def ingest(
    conn: sqlite3.Connection, manifest_path: Path, run_results_path: Path, force: bool = False
) -> IngestSummary:
    """Bring state.db up to date with the artifacts, in one transaction (an interrupted ingest
    leaves the previous state). Unchanged files (same size and modification time as last
    ingested) are not read again unless `force`."""
    known = store.artifact_fingerprints(conn)
    current = _fingerprint_or_none(manifest_path)
    manifest_changed = force or current is None or known.get("manifest") != current
    runs_changed = os.path.exists(run_results_path) and (
        force or known.get("run_results") != _fingerprint_or_none(run_results_path)
    )
    if not manifest_changed and not runs_changed:
        counts = store.model_counts(conn)
        return IngestSummary(False, False, *counts)
    manifest = read_artifact(manifest_path, "manifest")
    models = models_of(manifest.data)
    artifacts: list[Artifact] = [manifest]
    runs: list[RunRecord] = []
    if os.path.exists(run_results_path):
        results = read_artifact(run_results_path, "run_results")
        artifacts.append(results)
        runs = runs_of(results.data)
    store.write_ingest(conn, artifacts, models, runs)
    return IngestSummary(True, bool(runs_changed), len(models), sum(m.tracked for m in models))


def _fingerprint_or_none(path: Path) -> str | None:
    try:
        return fingerprint(path)
    except OSError:
        return None
