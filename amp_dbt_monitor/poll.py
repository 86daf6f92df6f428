"""One poll: ask Amp's Admin API about the project's jobs and Flight about the chain head and each
tracked model, judge freshness, and record it all in state.db in one transaction.

Network first, then one short write: two monitors polling the same project at once each wait a
moment for the other's write (state.db's busy timeout), never fail. When Amp does not answer,
nothing but the failed poll is recorded, so every reader keeps showing the last known state, and
says how old it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from dbt_common.exceptions import DbtRuntimeError

from amp_dbt_monitor import store
from amp_dbt_monitor.errors import ConfigError
from amp_dbt_monitor.freshness import BlockMark, assess, progress_percent
from amp_dbt_monitor.ingest import FAILED_RUN_STATUSES
from amp_dbt_monitor.probe import (
    PROBE_ALIAS,
    FlightProbe,
    FlightUnreachable,
    Probe,
    message_of,
    table_sql,
)
from dbt.adapters.amp.admin import (
    FAILED_STATUSES,
    AdminAuthError,
    AdminClient,
    AdminError,
    JobInfo,
    JobProgress,
)
from dbt.adapters.amp.state import utc_now

OK, UNREACHABLE, NOT_CONFIGURED, NOT_NEEDED = "ok", "unreachable", "not configured", "not needed"
PROBE_THREADS = 4
JOBS_PAGE = 1_000  # Amp's largest page of GET /jobs


@dataclass
class PollResult:
    """What a poll did: its record (as written), and what the user must be told."""

    record: store.PollRecord
    warnings: list[str] = field(default_factory=list)

    @property
    def reached_amp(self) -> bool:
        return UNREACHABLE not in (self.record.admin, self.record.flight)


@dataclass
class JobView:
    """A model's current job as this poll saw it."""

    info: JobInfo
    progress: JobProgress | None
    record: store.JobRecord


class Poller:
    """Polls one project's Amp: keeps its clients open across polls (for `watch`)."""

    def __init__(self, admin: AdminClient | None, probe: FlightProbe) -> None:
        self.admin = admin  # None: the profile has no admin_url (freshness only, no jobs)
        self.probe = probe

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
        self.probe.close()

    def poll(self, conn: sqlite3.Connection) -> PollResult:
        models = store.tracked_models(conn)
        started = utc_now()
        record = store.PollRecord(
            started,
            OK if self.admin else NOT_CONFIGURED,
            OK if models else NOT_NEEDED,
        )
        result = PollResult(record)
        if self.admin is None and any(m.is_dataset for m in models):
            result.warnings.append(
                "the profile's target has no admin_url, so jobs are not shown: add "
                "admin_url: http://<host>:1610 to it"
            )
        try:
            jobs = self._jobs(conn, models, record) if self.admin else {}
        except AdminAuthError as exc:
            raise ConfigError(
                f"Amp's Admin API refused the token ({exc.code}: {exc.message}); set `token` in "
                "the profile, AMP_AUTH_TOKEN, or log in with `amp auth login`"
            ) from None
        except AdminError as exc:
            return self._failed(conn, result, "admin", f"Amp's Admin API did not answer: {exc}")
        try:
            heads, probes = self._flight(models, result.warnings)
        except FlightUnreachable as exc:
            return self._failed(conn, result, "flight", str(exc))
        record.heads = [(mark, source) for mark, source in heads.values()]
        head_marks = {network: mark for network, (mark, _) in heads.items()}
        record.states = [
            self._state(model, jobs.get(model.model_id), probes.get(model.model_id), head_marks)
            for model in models
        ]
        self._rows_processed(record, jobs, probes)
        store.write_poll(conn, record)
        return result

    def _failed(self, conn: sqlite3.Connection, result: PollResult, api: str, message: str):
        record = result.record
        setattr(record, api, UNREACHABLE)
        record.message = message
        record.jobs, record.events, record.heads, record.states = [], [], [], []
        store.write_poll(conn, record)
        result.warnings.append(message)
        return result

    # --- Admin API -----------------------------------------------------------------------------

    def _jobs(
        self, conn: sqlite3.Connection, models: list[store.ModelRow], record: store.PollRecord
    ) -> dict[str, JobView]:
        """Each dataset model's current job (and every job of the project's datasets)."""
        datasets = {
            (m.dataset_namespace, m.dataset_name): m for m in models if m.is_dataset
        }  # fmt: skip
        if not datasets:
            return {}
        assert self.admin is not None
        mine = [
            job
            for job in self.admin.iter_jobs("all", JOBS_PAGE)
            if (job.descriptor.get("dataset_namespace"), job.descriptor.get("dataset_name"))
            in datasets
        ]
        known = store.known_jobs(conn, (j.id for j in mine))
        views: dict[str, JobView] = {}
        for model in datasets.values():
            job = _current_job(model, mine) or self._job_from_run(model)
            if job is None:
                continue
            views[model.model_id] = self._view(conn, model, job, known.get(job.id), record)
        current = {v.info.id for v in views.values()}
        for job in mine:
            if job.id not in current:
                model = datasets[
                    (job.descriptor["dataset_namespace"], job.descriptor["dataset_name"])
                ]
                record.jobs.append(_job_record(model, job, None, known.get(job.id), []))
        return views

    def _job_from_run(self, model: store.ModelRow) -> JobInfo | None:
        """The job dbt reported, when the listing does not show it (e.g. it was deleted)."""
        if model.job_id is None:
            return None
        assert self.admin is not None
        try:
            return self.admin.job(model.job_id)
        except AdminError as exc:
            if exc.status == 404:
                return None
            raise

    def _view(
        self,
        conn: sqlite3.Connection,
        model: store.ModelRow,
        job: JobInfo,
        known: store.JobRecord | None,
        record: store.PollRecord,
    ) -> JobView:
        assert self.admin is not None
        unchanged = known is not None and job.terminal and known.updated_at == job.updated_at
        if unchanged:  # a finished job does not change: no need to ask again
            return JobView(job, None, known)
        progress = self.admin.progress(job.id)
        events = self.admin.events(job.id)
        stored = {e.event_id: e.detail for e in store.job_events(conn, job.id)}
        details = {}
        for event in events:  # the detail of a failure (Amp's error) is one more call
            if event.event_type in FAILED_STATUSES:
                details[event.id] = (
                    stored.get(event.id) or self.admin.event(job.id, event.id).detail
                )
        record.events += [
            store.EventRecord(
                job.id, e.id, e.event_type, e.created_at, e.node_id, details.get(e.id, e.detail)
            )
            for e in events
        ]
        job_record = _job_record(model, job, progress, known, events, details)
        record.jobs.append(job_record)
        return JobView(job, progress, job_record)

    # --- Flight --------------------------------------------------------------------------------

    def _flight(
        self, models: list[store.ModelRow], warnings: list[str]
    ) -> tuple[dict[str, tuple[BlockMark, str]], dict[str, Probe]]:
        """(chain head per network with its source table, probe per model id)."""
        if not models:
            return {}, {}
        probe = self.probe
        tables = sorted({pair for m in models for pair in m.upstream})
        with ThreadPoolExecutor(PROBE_THREADS) as pool:
            head_futures = [(pair, pool.submit(probe.head, *pair)) for pair in tables]
            model_futures = {
                m.model_id: pool.submit(probe.model, relation, m.track_column)
                for m in models
                if (relation := _relation(m)) is not None
            }
            heads: dict[str, tuple[BlockMark, str]] = {}
            for (reference, table), future in head_futures:
                try:
                    marks = future.result()
                except (FlightUnreachable, ConfigError):
                    raise
                except DbtRuntimeError as exc:  # Amp refused one chain table: a warning
                    where = table_sql(reference, table)
                    warnings.append(f"no chain head from {where}: {message_of(exc)}")
                    continue
                for mark in marks:
                    best = heads.get(mark.network)
                    if best is None or mark.block > best[0].block:
                        heads[mark.network] = (mark, table_sql(reference, table))
            probes = {uid: future.result() for uid, future in model_futures.items()}
        return heads, probes

    # --- judgement -----------------------------------------------------------------------------

    def _state(
        self,
        model: store.ModelRow,
        job: JobView | None,
        probe: Probe | None,
        heads: dict[str, BlockMark],
    ) -> store.StateRecord:
        failure = _failure(model, job, probe)
        if probe is None:
            failure = failure or (
                "no compiled SQL for it in manifest.json: run `dbt compile` or `dbt build`"
            )
        verdict = assess(
            model.alert_threshold_minutes, probe.marks if probe else [], heads, failure
        )
        network = verdict.network
        start = probe.starts.get(network) if probe and network else None
        target = _target(model, verdict.head)
        current = verdict.latest.block if verdict.latest else None
        return store.StateRecord(
            model_id=model.model_id,
            model_name=model.name,
            status=verdict.status,
            reason=verdict.reason,
            dataset_reference=model.deployed_reference,
            network=network,
            latest_block=current,
            latest_block_timestamp=verdict.latest.timestamp if verdict.latest else None,
            max_value=probe.max_value if probe else None,
            row_count=probe.row_count if probe else None,
            start_block=start,
            head_block=verdict.head.block if verdict.head else None,
            head_timestamp=verdict.head.timestamp if verdict.head else None,
            lag_blocks=verdict.lag_blocks,
            lag_seconds=verdict.lag_seconds,
            job_id=job.info.id if job else model.job_id,
            job_status=job.info.status if job else None,
            progress=progress_percent(
                start, current, target, completed=bool(job and job.info.status == "COMPLETED")
            ),
        )

    @staticmethod
    def _rows_processed(
        record: store.PollRecord, jobs: dict[str, JobView], probes: dict[str, Probe]
    ) -> None:
        """A dataset job's rows: what its table holds now (the model's probe counted them)."""
        for model_id, view in jobs.items():
            probe = probes.get(model_id)
            if probe is None or probe.row_count is None:
                continue
            for i, job in enumerate(record.jobs):
                if job.job_id == view.info.id:
                    record.jobs[i] = replace(job, rows_processed=probe.row_count)


def _relation(model: store.ModelRow) -> str | None:
    """What a model's probe reads: its dataset table (the manifest dbt last deployed), or its
    compiled SQL."""
    if model.is_dataset:
        return table_sql(model.deployed_reference or "", model.dataset_table or "")
    if model.probe_sql:
        return f"({model.probe_sql}) AS {PROBE_ALIAS}"
    return None


def _current_job(model: store.ModelRow, jobs: Iterable[JobInfo]) -> JobInfo | None:
    """The newest job of the model's dataset: of the manifest dbt last registered when known."""
    key = (model.dataset_namespace, model.dataset_name)
    candidates = [
        j
        for j in jobs
        if (j.descriptor.get("dataset_namespace"), j.descriptor.get("dataset_name")) == key
        and (
            model.manifest_hash is None or j.descriptor.get("manifest_hash") == model.manifest_hash
        )
    ]
    return max(candidates, key=lambda j: j.id, default=None)


def _failure(model: store.ModelRow, job: JobView | None, probe: Probe | None) -> str | None:
    """Why the model is in error, if it is: its dbt run, its job, or Amp refusing its probe."""
    if model.run_status in FAILED_RUN_STATUSES:
        return f"dbt run {model.run_status}: {model.run_message or 'no message'}"
    if job is not None and job.info.status in FAILED_STATUSES:
        return f"job {job.info.id} {job.info.status}: {job.record.error or 'no error detail'}"
    if probe is not None and probe.error and not probe.not_synced:
        return (
            f"Amp refused the freshness query (max of track_column {model.track_column!r}): "
            f"{probe.error}"
        )
    return None


def _target(model: store.ModelRow, head: BlockMark | None) -> int | None:
    """Where the model's job is heading: its absolute end block, else the chain head."""
    if model.end_block and model.end_block.isdigit():
        return int(model.end_block)
    if head is None:
        return None
    if model.end_block and model.end_block.startswith("-"):
        return max(head.block - int(model.end_block[1:]), 0)
    return head.block


def _job_record(
    model: store.ModelRow,
    job: JobInfo,
    progress: JobProgress | None,
    known: store.JobRecord | None,
    events: list,
    details: dict | None = None,
) -> store.JobRecord:
    """A job_history row from what Amp says now (and what was known before)."""
    details = details or {}
    started = next((e.created_at for e in events if e.event_type == "RUNNING"), None)
    ended = next((e.created_at for e in reversed(events) if e.event_type == job.status), None)
    table = progress.tables.get(model.dataset_table or "") if progress else None
    error = None
    detail = (progress.detail if progress else None) or next(
        (details[e.id] for e in reversed(events) if e.id in details), None
    )
    if job.status in FAILED_STATUSES and isinstance(detail, dict) and detail.get("error_code"):
        error = f"{detail['error_code']}: {detail.get('error_message', '')}"
    previous = known or store.JobRecord(job.id, None, None, None, job.status)
    return store.JobRecord(
        job_id=job.id,
        model_id=model.model_id,
        model_name=model.name,
        dataset=job.dataset,
        status=job.status,
        end_block=job.descriptor.get("end_block"),
        created_at=job.created_at,
        started_at=started or previous.started_at,
        completed_at=(ended or job.updated_at) if job.terminal else None,
        updated_at=job.updated_at,
        final_block=table.current_block if table else previous.final_block,
        rows_processed=previous.rows_processed,
        files_count=table.files_count if table else previous.files_count,
        total_size_bytes=table.total_size_bytes if table else previous.total_size_bytes,
        error=error or (previous.error if job.status in FAILED_STATUSES else None),
    )
