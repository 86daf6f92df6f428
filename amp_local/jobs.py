"""Jobs: Amp's scheduler and embedded worker (node `worker`) for deployed datasets (PROTOCOL §6.3-6.6).

`deploy()` schedules one job per dataset revision (idempotency key `sha256("<kind>:<ns>/<name>@<hash>")`,
as Amp's `job_key.rs`): an active job with the same descriptor is returned again, one with another
descriptor is a conflict, and a finished job is rescheduled under the same id. Each job runs in its
own thread through Amp's statuses, `SCHEDULED → RUNNING → COMPLETED | STOPPED | ERROR` (a stop goes
through `STOP_REQUESTED → STOPPING`), recording one event per transition. Jobs, events and the
written segments live under `--data-dir`; jobs that were active when the server stopped resume when
it starts again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

from amp_local.admin_errors import ApiError, api_error
from amp_local.datasets import Dataset
from amp_local.manifests import DERIVED_KIND
from amp_local.materialize import (
    DEFAULT_MICROBATCH_BLOCKS,
    MaterializeError,
    Materializer,
    Stopped,
    resolve_end_block,
    run_until,
)
from amp_local.metadata import JobRow, MetadataDb
from amp_local.registry import Registry
from amp_local.segments import canonical_chain

log = logging.getLogger("amp_local.jobs")

NODE_ID = "worker"
SCHEDULED, RUNNING, COMPLETED = "SCHEDULED", "RUNNING", "COMPLETED"
STOPPED, STOP_REQUESTED, STOPPING = "STOPPED", "STOP_REQUESTED", "STOPPING"
ERROR, FATAL = "ERROR", "FATAL"
TERMINAL = (COMPLETED, STOPPED, ERROR, FATAL)
ACTIVE = (SCHEDULED, RUNNING, STOP_REQUESTED, STOPPING)
ALL_STATUSES = (*ACTIVE, *TERMINAL, "UNKNOWN")
DELETE_FILTERS = {
    "terminal": TERMINAL,
    "completed": (COMPLETED,),
    "stopped": (STOPPED,),
    "error": (ERROR, FATAL),
}


def job_kind(dataset: Dataset) -> str:
    return "materialize-derived" if dataset.kind == DERIVED_KIND else "materialize-raw"


def descriptor(dataset: Dataset, end_block: str | None) -> dict:
    """The job descriptor Amp stores (and shows in `JobInfo.descriptor`)."""
    if dataset.kind == DERIVED_KIND:
        return {
            "kind": "materialize-derived",
            "end_block": end_block,
            "dataset_namespace": dataset.namespace,
            "dataset_name": dataset.name,
            "manifest_hash": dataset.manifest_hash,
        }
    return {
        "kind": "materialize-raw",
        "end_block": end_block,
        "max_writers": 1,
        "dataset_namespace": dataset.namespace,
        "dataset_name": dataset.name,
        "manifest_hash": dataset.manifest_hash,
        "verify": False,
    }


def idempotency_key(dataset: Dataset) -> str:
    return hashlib.sha256(f"{job_kind(dataset)}:{dataset.hash_reference}".encode()).hexdigest()


class JobManager:
    """Schedules, runs, stops and reports jobs; thread-safe."""

    def __init__(
        self,
        db: MetadataDb,
        registry: Registry,
        *,
        microbatch_blocks: int = DEFAULT_MICROBATCH_BLOCKS,
        poll_seconds: float = 0.25,
    ) -> None:
        self.db = db
        self.registry = registry
        self.microbatch_blocks = microbatch_blocks
        self.poll_seconds = poll_seconds
        self._lock = threading.RLock()
        self._threads: dict[int, threading.Thread] = {}
        self._stop_requests: dict[int, threading.Event] = {}
        self._closing = threading.Event()

    # --- lifecycle ----------------------------------------------------------------------------

    def resume(self) -> None:
        """After a restart: finish stops that were in progress, run active jobs again."""
        for job in self.db.jobs(statuses=ACTIVE):
            if job.status in (STOP_REQUESTED, STOPPING):
                self._transition(job.id, STOPPED)
            else:
                self._start(job.id)

    def close(self) -> None:
        """Let worker threads end at their next check, leaving job statuses as they are."""
        self._closing.set()

    # --- scheduling ---------------------------------------------------------------------------

    def deploy(self, dataset: Dataset, end_block: str | None) -> int:
        """Schedule (or find) the job materializing `dataset`; returns its id."""
        wanted = descriptor(dataset, end_block)
        key = idempotency_key(dataset)
        with self._lock:
            existing = self.db.job_by_key(key)
            if existing is not None and existing.status not in TERMINAL:
                if existing.descriptor == wanted:
                    return existing.id
                raise api_error(
                    409,
                    "ACTIVE_JOB_CONFLICT",
                    f"Failed to schedule job: dataset '{dataset.hash_reference}' already has "
                    f"active job {existing.id} with a different descriptor",
                    f"active job {existing.id}: {existing.descriptor}; requested: {wanted}; stop "
                    f"it (PUT /jobs/{existing.id}/stop) and deploy again",
                )
            if dataset.kind == DERIVED_KIND:
                self.registry.activate(dataset)
            if existing is None:
                job_id = self.db.insert_job(key, NODE_ID, SCHEDULED, wanted)
            else:
                job_id = existing.id
                self.db.update_job(job_id, SCHEDULED, wanted)
            self.db.add_event(job_id, NODE_ID, SCHEDULED, wanted)
            self._start(job_id)
            return job_id

    def stop(self, job_id: int) -> None:
        """`PUT /jobs/{id}/stop`: request a stop (no-op for finished jobs)."""
        with self._lock:
            job = self._job(job_id)
            if job.status in (SCHEDULED, RUNNING):
                self._transition(job_id, STOP_REQUESTED)
                self._stop_requests.setdefault(job_id, threading.Event()).set()

    def delete(self, job_id: int) -> None:
        """`DELETE /jobs/{id}`: remove a finished job (absent jobs too, idempotently)."""
        with self._lock:
            job = self.db.job(job_id)
            if job is None:
                return
            if job.status not in TERMINAL:
                raise ApiError(
                    409,
                    "JOB_CONFLICT",
                    f"job '{job_id}' cannot be deleted from current state: {job.status}",
                )
            self.db.delete_job(job_id)

    def delete_by_status(self, statuses: tuple[str, ...]) -> None:
        with self._lock:
            for job in self.db.jobs(statuses=statuses):
                self.db.delete_job(job.id)

    # --- reads --------------------------------------------------------------------------------

    def _job(self, job_id: int) -> JobRow:
        job = self.db.job(job_id)
        if job is None:
            raise ApiError(404, "JOB_NOT_FOUND", f"job '{job_id}' not found")
        return job

    def info(self, job_id: int) -> dict:
        return job_info(self._job(job_id))

    def progress(self, job_id: int) -> dict:
        """`GET /jobs/{id}/progress`: each table's contiguous synced range and files."""
        job = self._job(job_id)
        desc = job.descriptor
        tables = {}
        dataset = self.registry.store.revision(
            desc["dataset_namespace"], desc["dataset_name"], desc["manifest_hash"]
        )
        for name, table in (dataset.tables if dataset else {}).items():
            chain = canonical_chain(table.directory) if table.directory else []
            tables[name] = {
                "current_block": chain[-1].end if chain else None,
                "start_block": chain[0].start if chain else None,
                "files_count": len(chain),
                "total_size_bytes": sum(fr.path.stat().st_size for fr in chain),
            }
        out = {"job_id": job.id, "job_status": job.status, "tables": tables}
        if job.status in (ERROR, FATAL):
            failure = next(
                (e for e in reversed(self.db.events(job.id)) if e.event_type == job.status), None
            )
            if failure is not None and failure.detail is not None:
                out["detail"] = failure.detail
        return out

    def events(self, job_id: int) -> dict:
        self._job(job_id)
        return {
            "job_id": job_id,
            "events": [
                {
                    "id": e.id,
                    "created_at": e.created_at,
                    "node_id": e.node_id,
                    "event_type": e.event_type,
                }
                for e in self.db.events(job_id)
            ],
        }

    def event(self, job_id: int, event_id: int) -> dict:
        self._job(job_id)
        event = self.db.event(job_id, event_id)
        if event is None:
            raise ApiError(
                404, "EVENT_NOT_FOUND", f"event '{event_id}' not found for job '{job_id}'"
            )
        out = {
            "id": event.id,
            "job_id": job_id,
            "created_at": event.created_at,
            "node_id": event.node_id,
            "event_type": event.event_type,
        }
        if event.detail is not None:
            out["detail"] = event.detail
        return out

    # --- the worker ---------------------------------------------------------------------------

    def _transition(self, job_id: int, status: str, detail: object = None) -> None:
        self.db.update_job(job_id, status)
        self.db.add_event(job_id, NODE_ID, status, detail)

    def _start(self, job_id: int) -> None:
        with self._lock:
            finishing = self._threads.get(job_id)
            if finishing is not None:
                finishing.join()  # only rescheduled once finished: the thread is returning
            self._stop_requests[job_id] = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(job_id,), name=f"amp-job-{job_id}", daemon=True
            )
            self._threads[job_id] = thread
            thread.start()

    def _should_stop(self, job_id: int) -> Callable[[], bool]:
        requested = self._stop_requests.setdefault(job_id, threading.Event())

        def should_stop() -> bool:
            if self._closing.is_set():
                raise _Closing
            return requested.is_set()

        return should_stop

    def _run(self, job_id: int) -> None:
        try:
            job = self._job(job_id)
            should_stop = self._should_stop(job_id)
            if job.status == STOP_REQUESTED or should_stop():
                self._finish_stop(job_id)
                return
            if job.status == SCHEDULED:
                self._transition(job_id, RUNNING)
            self._execute(job, should_stop)
            self._transition(job_id, COMPLETED)
        except Stopped:
            self._finish_stop(job_id)
        except MaterializeError as error:
            log.info("job %s failed: %s %s", job_id, error.code, error.message)
            self._transition(job_id, ERROR, error.detail())
        except _Closing:
            return
        except Exception as exc:  # a bug in amp_local: recorded on the job, not lost in a thread
            log.exception("job %s crashed", job_id)
            failure = MaterializeError("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            self._transition(job_id, ERROR, failure.detail())

    def _finish_stop(self, job_id: int) -> None:
        with self._lock:
            if self.db.job(job_id).status != STOP_REQUESTED:
                self._transition(job_id, STOP_REQUESTED)
            self._transition(job_id, STOPPING)
            self._transition(job_id, STOPPED)

    def _execute(self, job: JobRow, should_stop: Callable[[], bool]) -> None:
        desc = job.descriptor
        namespace, name, digest = (
            desc["dataset_namespace"],
            desc["dataset_name"],
            desc["manifest_hash"],
        )
        try:
            dataset = self.registry.dataset(namespace, name, digest)
            aliases = (
                self.registry.dependencies(dataset.manifest)
                if dataset.kind == DERIVED_KIND
                else {}
            )
        except (LookupError, ValueError) as exc:
            raise MaterializeError(
                "GET_DATASET_ERROR", f"{namespace}/{name}@{digest}: {exc}"
            ) from None
        if desc["kind"] == "materialize-raw":
            self._follow_raw(dataset, desc["end_block"], should_stop)
            return
        self.registry.activate(dataset)
        materializer = Materializer(
            self.registry.store, dataset, aliases, microbatch_blocks=self.microbatch_blocks
        )
        run_until(materializer, desc["end_block"], should_stop, self.poll_seconds)

    def _follow_raw(self, dataset: Dataset, end_block: str | None, should_stop) -> None:
        """A raw dataset's job: amp_local serves raw data from folders (it does not extract from
        a provider), so the job follows the folders' head to its end block, or until stopped."""
        tables = list(dataset.tables.values())
        if not tables or any(t.directory is None for t in tables):
            raise MaterializeError(
                "NO_PROVIDER",
                f"dataset {dataset.hash_reference} has no data folder: amp_local does not extract "
                "raw data from providers; serve the dataset with `amp-local serve --dataset "
                "NS/NAME@VERSION=DIR`",
            )

        def head() -> int | None:
            spans = [self.registry.store.table_range(t) for t in tables]
            return None if None in spans else min(end for _, end in spans)

        end = None if end_block is None else resolve_end_block(end_block, head())
        if end_block is not None and end is None:
            return
        while end is None or (head() or -1) < end:
            if should_stop():
                raise Stopped
            self._closing.wait(self.poll_seconds)


class _Closing(Exception):
    """The server is shutting down: leave the job as it is, to resume on restart."""


def job_info(job: JobRow) -> dict:
    """`JobInfo` as Amp serializes it."""
    return {
        "id": job.id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "node_id": job.node_id,
        "status": job.status,
        "descriptor": job.descriptor,
    }
