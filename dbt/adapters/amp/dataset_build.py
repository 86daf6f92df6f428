"""The `dataset` materialization's work: manifest → register → deploy → wait (PROTOCOL §5-§6).

A `dataset` model becomes one table of an Amp derived dataset `<namespace>/<dataset_name>`, named
after the model's alias. Registering an unchanged model is idempotent (same manifest hash, and Amp
hands back the same job on deploy), so re-running `dbt run` re-attaches to the running job.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dbt.adapters.contracts.connection import AdapterResponse
from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import CompilationError, DbtRuntimeError

from dbt.adapters.amp.admin import (
    FAILED_STATUSES,
    AdminAuthError,
    AdminClient,
    AdminError,
    AdminUnreachable,
    JobProgress,
)
from dbt.adapters.amp.dependencies import config_flag, node_get, node_label
from dbt.adapters.amp.manifests import (
    Reference,
    derived_manifest,
    manifest_hash,
    pin_dependencies,
    rewrite_references,
    table_references,
)
from dbt.adapters.amp.references import is_semver, validate_dependencies
from dbt.adapters.amp.sql_text import strip_trailing_comments

logger = AdapterLogger("Amp")

DEV = "dev"
# `wait` re-checks a job after 50 ms, then ever less often up to once a second (a job on a small
# range is done in a blink; a long one need not be polled hard), and logs progress every 2 s
REPORT_SECONDS = 2.0


def poll_delays(first: float = 0.05, longest: float = 1.0) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, longest)


@dataclass
class AmpDatasetResponse(AdapterResponse):
    namespace: str | None = None
    name: str | None = None
    version: str | None = None
    table: str | None = None
    manifest_hash: str | None = None
    dataset_reference: str | None = None
    job_id: int | None = None
    job_status: str | None = None
    end_block: str | None = None
    current_block: int | None = None


@dataclass
class _Wait:
    note: str
    cancelled: threading.Event = field(default_factory=threading.Event)


_WAITS: dict[int, _Wait] = {}
_WAITS_LOCK = threading.Lock()


@contextmanager
def _registered_wait(note: str) -> Iterator[threading.Event]:
    """Make this thread's wait cancellable by `cancel_waits` (dbt's Ctrl-C handling)."""
    wait = _Wait(note)
    with _WAITS_LOCK:
        _WAITS[threading.get_ident()] = wait
    try:
        yield wait.cancelled
    finally:
        with _WAITS_LOCK:
            _WAITS.pop(threading.get_ident(), None)


def cancel_waits() -> list[str]:
    """Stop every wait in progress (dbt joins its worker threads after Ctrl-C); what to tell the
    user about each job, which keeps running on Amp."""
    with _WAITS_LOCK:
        waits = list(_WAITS.values())
    for wait in waits:
        wait.cancelled.set()
    return [wait.note for wait in waits]


def node_config(node: Any) -> dict:
    config = node_get(node, "config") or {}
    return config if isinstance(config, dict) else config.to_dict()


def is_dataset_node(node: Any) -> bool:
    config = node_config(node)
    return config.get("materialized") == "dataset" or config_flag(config.get("register"))


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset model goes on Amp, from its configs."""

    namespace: str
    name: str
    table: str
    version: str | None
    deploy: bool
    end_block: str | None
    wait: bool

    @property
    def revision(self) -> str:
        return self.version or DEV

    @property
    def reference(self) -> str:
        return f"{self.namespace}/{self.name}@{self.revision}"

    @property
    def table_reference(self) -> str:
        """What ad-hoc SQL (tests, show, downstream queries) selects from."""
        return f'"{self.reference}".{self.table}'

    @classmethod
    def of(cls, node: Any) -> DatasetSpec:
        config = node_config(node)
        label = node_label(node, "model")
        name = config.get("dataset_name") or node_get(node, "name")
        version = config.get("version")
        if version is not None and not is_semver(str(version)):
            raise CompilationError(
                f"{label}: version {version!r} is not a semver version (e.g. '1.0.0'); leave it "
                "out to register under the 'dev' tag"
            )
        try:
            Reference.parse(f"{node_get(node, 'schema')}/{name}@{DEV}")
        except ValueError:
            raise CompilationError(
                f"{label}: '{node_get(node, 'schema')}/{name}' is not a valid Amp dataset name: "
                "the namespace (the profile's schema) is [a-z0-9_]+ and dataset_name is "
                "[a-z_][a-z0-9_]*"
            ) from None
        return cls(
            namespace=node_get(node, "schema"),
            name=name,
            table=node_get(node, "alias") or node_get(node, "name"),
            version=None if version is None else str(version),
            deploy=config_flag(config.get("deploy")),
            end_block=_end_block(config.get("end_block"), label),
            wait=config_flag(config.get("wait")),
        )


def _end_block(value: Any, label: str) -> str | None:
    """None (continuous), 'latest', an absolute block, or '-N' (N behind the head)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text == "-0":  # zero blocks behind the head is the head
        return "latest"
    if text == "latest" or re.fullmatch(r"\d+|-[1-9]\d*", text):
        return text
    raise CompilationError(
        f"{label}: end_block {value!r} must be 'latest', a block number, or '-N' (N blocks behind "
        "the head); leave it out for a continuous job"
    )


class DatasetBuilder:
    """Builds, registers, deploys and waits for one dataset model."""

    def __init__(
        self, admin: AdminClient, head_block: Callable[[list[tuple[str, str]]], int | None]
    ) -> None:
        self.admin = admin
        self.head_block = head_block  # max synced block of ("ns/name@rev", table) pairs

    def manifest(
        self, node: Any, sql: str, dependencies: dict[str, str], dataset_refs: set[str]
    ) -> tuple[DatasetSpec, dict]:
        spec = DatasetSpec.of(node)
        label = node_label(node, "model")
        sql, deps = rewrite_references(strip_trailing_comments(sql).strip(), dependencies)
        try:
            validate_dependencies(deps)
            deps = pin_dependencies(deps, self._pin, by_hash=dataset_refs)
            schemas = self.admin.schema(deps, {spec.table: sql})
        except ValueError as exc:
            raise CompilationError(f"{label}: {exc}") from None
        except (AdminUnreachable, AdminAuthError) as exc:
            raise DbtRuntimeError(f"{label}: {exc}") from None
        except AdminError as exc:
            if exc.status is None or exc.status >= 500:
                raise DbtRuntimeError(f"{label}: Amp's Admin API failed: {exc}") from None
            raise CompilationError(self._refusal(label, exc)) from None
        schema = {"arrow": {"fields": [_field(f) for f in schemas[spec.table]["arrow"]["fields"]]}}
        return spec, derived_manifest(deps, {spec.table: (sql, schema)})

    def _pin(self, ref: Reference) -> str:
        """The revision to pin `ref` to: `latest` → its semver version, else the manifest hash."""
        try:
            if ref.revision == "latest":
                tags = self.admin.versions(ref.namespace, ref.name).get("special_tags") or {}
                if tags.get("latest"):
                    return tags["latest"]
            return self.admin.dataset_info(ref.namespace, ref.name, ref.revision)["manifest_hash"]
        except AdminError as exc:
            if exc.status == 404:
                raise ValueError(
                    f"dependency {ref} is not registered on Amp ({exc.code}); register it first, "
                    "or fix the reference"
                ) from None
            raise

    @staticmethod
    def _refusal(label: str, exc: AdminError) -> str:
        refused = f"{label}: Amp refused the dataset's SQL with {exc.code}: {exc.message}"
        if exc.code not in ("NON_INCREMENTAL_QUERY", "MANIFEST_VALIDATION_ERROR"):
            return refused
        if "non-incremental operation: Aggregate" in exc.message:
            return (
                f"{refused}\nAmp aggregates a dataset table per block range, so group by "
                "_block_num first, e.g. `select _block_num, token, count(*) as n ... group by "
                "_block_num, token`; for totals over all blocks use a materialized='query' model "
                "over this dataset."
            )
        return (
            f"{refused}\nAmp materializes a dataset table block range by block range, so its SQL "
            "may not use LIMIT, ORDER BY, window functions, outer joins or DISTINCT, and "
            "aggregates must group by _block_num first; use materialized='query' for such "
            "analysis."
        )

    def build(
        self,
        node: Any,
        sql: str,
        dependencies: dict[str, str],
        dataset_refs: set[str],
        full_refresh: bool = False,
    ) -> AmpDatasetResponse:
        label = node_label(node, "model")
        spec, manifest = self.manifest(node, sql, dependencies, dataset_refs)
        expected_hash = manifest_hash(manifest)
        if spec.version:
            self._warn_if_version_moves(label, spec, expected_hash)
        try:
            registered = self.admin.register(spec.namespace, spec.name, manifest, spec.version)
        except AdminError as exc:
            raise DbtRuntimeError(f"{label}: registering {spec.reference} failed: {exc}") from None
        if registered.manifest_hash != expected_hash:
            logger.debug(
                f"{spec.reference}: Amp hashed the manifest as {registered.manifest_hash}, "
                f"dbt-amp as {expected_hash}"
            )
        response = AmpDatasetResponse(
            _message=f"REGISTERED {spec.reference}",
            namespace=spec.namespace,
            name=spec.name,
            version=spec.version,
            table=spec.table,
            manifest_hash=registered.manifest_hash,
            dataset_reference=spec.table_reference,
            end_block=spec.end_block,
        )
        if full_refresh:
            logger.warning(
                f"{label}: --full-refresh cannot re-materialize {spec.reference} from scratch: "
                "Amp keeps a dataset's tables per manifest hash and resumes them on deploy, and "
                "its Admin API has no call to discard them. Change the model's SQL (a new hash "
                "starts a new table) or its `version` to rebuild."
            )
        if not spec.deploy:
            return response
        job_id = self._deploy(label, spec, registered.manifest_hash)
        self._warn_about_older_jobs(label, spec, registered.manifest_hash)
        response.job_id = job_id
        response._message = f"DEPLOYED {spec.reference} job {job_id}"
        if spec.wait:
            progress = self.wait(label, spec, job_id, manifest)
            response.job_status = progress.status
            response.current_block = progress.current_block
            response._message = f"{progress.status} {spec.reference} job {job_id}" + (
                f" at block {progress.current_block}" if progress.current_block is not None else ""
            )
        else:
            response.job_status = self.admin.job(job_id).status
        return response

    def _warn_if_version_moves(self, label: str, spec: DatasetSpec, new_hash: str) -> None:
        """A semver tag Amp already has, for other SQL: Amp moves it (last write wins)."""
        try:
            old_hash = self.admin.dataset_info(spec.namespace, spec.name, spec.revision)[
                "manifest_hash"
            ]
        except AdminError:
            return  # not registered yet (or not readable): nothing moves
        if old_hash != new_hash:
            logger.warning(
                f"{label}: {spec.reference} already names manifest {old_hash[:12]}…; registering "
                f"moves the tag to this model's new SQL ({new_hash[:12]}…), and everything pinned "
                "to that version reads it. Bump `version` to keep both."
            )

    def _warn_about_older_jobs(self, label: str, spec: DatasetSpec, hash_: str) -> None:
        """Jobs of this dataset's earlier manifests that still run (Amp keeps them going)."""
        try:
            older = [
                job
                for job in self.admin.iter_jobs("active")
                if job.descriptor.get("dataset_namespace") == spec.namespace
                and job.descriptor.get("dataset_name") == spec.name
                and job.descriptor.get("manifest_hash") != hash_
            ]
        except AdminError:
            return
        for job in older:
            logger.warning(
                f"{label}: job {job.id} of an earlier manifest of {spec.namespace}/{spec.name} "
                f"({job.descriptor.get('manifest_hash', '')[:12]}…) is still {job.status}; it keeps "
                f"materializing the old SQL until stopped: amp-dbt-monitor jobs stop {job.id} "
                f"(or PUT /jobs/{job.id}/stop)."
            )

    def _deploy(self, label: str, spec: DatasetSpec, hash_: str) -> int:
        try:
            # deploy the exact manifest just registered (a concurrent register may move `dev`)
            return self.admin.deploy(spec.namespace, spec.name, hash_, spec.end_block)
        except AdminError as exc:
            if exc.code == "ACTIVE_JOB_CONFLICT":
                raise DbtRuntimeError(
                    f"{label}: {spec.reference} already has a running job with a different "
                    f"end_block ({exc.message}). Stop that job first (PUT /jobs/<id>/stop, or "
                    "`amp-dbt-monitor jobs stop <id>`), or keep the previous end_block."
                ) from None
            raise DbtRuntimeError(f"{label}: deploying {spec.reference} failed: {exc}") from None

    def wait(self, label: str, spec: DatasetSpec, job_id: int, manifest: dict) -> JobProgress:
        """Poll the job until it completes (bounded) or catches up with its dependencies' head
        as of now (continuous); fail on ERROR/FATAL/STOPPED. Progress is logged every 2 s and
        at the end; the head (one Flight query per dependency table) is asked for only when a
        continuous job needs it to know when it is done, or when a progress line is due."""
        deps = manifest["dependencies"]
        sql = next(iter(manifest["tables"].values()))["input"]["sql"]
        pairs = sorted((deps[a], t) for a, t in table_references(sql, deps))
        target_of = functools.cache(
            lambda: _absolute_end(spec.end_block, lambda: self.head_block(pairs))
        )
        started = last_report = time.monotonic()
        first_block: int | None = None
        checked_end = False
        note = (
            f"{label}: stopped waiting; job {job_id} of {spec.reference} keeps running on Amp. "
            f"Run dbt again to re-attach (same manifest, same job), or stop it: "
            f"PUT /jobs/{job_id}/stop."
        )
        delays = poll_delays()
        with _registered_wait(note) as cancelled:
            while True:
                progress = self.admin.progress(job_id)
                current = progress.current_block
                if first_block is None and current is not None:
                    first_block = current  # this wait's rate counts from here
                now = time.monotonic()
                if progress.status == "COMPLETED":
                    done = True
                elif spec.end_block is None:  # continuous: done on reaching the head as of now
                    head = target_of()
                    done = head is not None and current is not None and current >= head
                else:
                    done = False
                if done or now - last_report >= REPORT_SECONDS:
                    target = current if progress.status == "COMPLETED" else target_of()
                    if not done and not checked_end:
                        checked_end = True
                        self._warn_if_past_head(label, spec, pairs)
                    logger.info(
                        _progress_line(
                            spec.reference,
                            job_id,
                            progress.status,
                            current,
                            target,
                            first_block,
                            now - started,
                        )
                    )
                    last_report = now
                if done:
                    return progress
                if progress.status in FAILED_STATUSES or progress.status == "STOPPED":
                    raise DbtRuntimeError(self._failure(label, spec, job_id, progress))
                if cancelled.wait(next(delays)):
                    raise DbtRuntimeError(note)

    def _warn_if_past_head(
        self, label: str, spec: DatasetSpec, pairs: list[tuple[str, str]]
    ) -> None:
        if spec.end_block is None or not spec.end_block.isdigit():
            return
        head = self.head_block(pairs)
        if head is not None and int(spec.end_block) > head:
            logger.warning(
                f"{label}: end_block {int(spec.end_block):,} is past its dependencies' head "
                f"({head:,}): the job waits for blocks the chain does not have yet, and so does "
                "`wait`. Ctrl-C stops waiting (the job keeps running); end_block: latest stops at "
                "the head."
            )

    def _failure(self, label: str, spec: DatasetSpec, job_id: int, progress: JobProgress) -> str:
        detail = progress.detail or {}
        if not detail:
            for event in reversed(self.admin.events(job_id)):
                if event.event_type in FAILED_STATUSES:
                    detail = self.admin.event(job_id, event.id).detail or {}
                    break
        if progress.status == "STOPPED":
            why = "it was stopped before it finished"
        elif isinstance(detail, dict) and detail.get("error_code"):
            why = f"{detail['error_code']}: {detail.get('error_message', '')}"
        else:
            why = "no error detail was recorded"
        return (
            f"{label}: job {job_id} of {spec.reference} ended {progress.status}: {why}. "
            f"Events: GET /jobs/{job_id}/events; a re-run redeploys the same job."
        )


def _field(f: dict) -> dict:
    return {"name": f["name"], "type": f["type"], "nullable": f["nullable"]}


def _absolute_end(end_block: str | None, head: Callable[[], int | None]) -> int | None:
    """The block a wait should reach: a given absolute block, else the dependencies' head now
    (minus N for '-N')."""
    if end_block is not None and end_block.isdigit():
        return int(end_block)
    latest = head()
    if latest is None:
        return None
    if end_block is not None and end_block.startswith("-"):
        return max(latest - int(end_block[1:]), 0)
    return latest


def _progress_line(
    reference: str,
    job_id: int,
    status: str,
    current: int | None,
    target: int | None,
    first: int | None,
    elapsed: float,
) -> str:
    """`[████░░░░] 45% | block 1,234 / 2,000 | 150 blocks/s | ETA 5s` (the original design's bar);
    the rate counts from the first block this wait saw."""
    if current is None or target is None:
        return f"{reference} job {job_id} {status}: waiting for the first block"
    target = max(target, current)  # a continuous job may pass the head it was measured against
    share = 1.0 if target <= 0 else min(max(current / target, 0.0), 1.0)
    bar = "█" * int(share * 20) + "░" * (20 - int(share * 20))
    rate = (current - (first or 0)) / elapsed if elapsed > 0 else 0.0
    line = (
        f"{reference} job {job_id} {status} [{bar}] {share:4.0%} | block {current:,} / {target:,}"
    )
    if current >= target:
        return line + " | done"
    eta = f"{(target - current) / rate:.0f}s" if rate > 0 else "?"
    return line + f" | {rate:,.0f} blocks/s | ETA {eta}"
