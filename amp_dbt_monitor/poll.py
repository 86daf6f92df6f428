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
from amp_dbt_monitor.freshness import (
    COMPLETE,
    NOT_DEPLOYED,
    STALE,
    BlockMark,
    Freshness,
    assess,
    progress_percent,
)
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
STOPPED_STATUSES = frozenset({"STOPPED", "STOP_REQUESTED", "STOPPING"})
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
    progress: JobProgress | None  # None: a finished job, as recorded before
    record: store.JobRecord
    events: list[store.EventRecord] | None = None  # None: not asked (unchanged)


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
            admin_down = f"Amp's Admin API did not answer: {exc}"
        else:
            admin_down = None
        try:
            heads, probes = self._flight(models, [] if admin_down else result.warnings)
        except FlightUnreachable as exc:
            down = ["admin", "flight"] if admin_down else ["flight"]
            message = f"{admin_down}; and Amp's Flight endpoint: {exc}" if admin_down else str(exc)
            return self._failed(conn, result, down, message)
        if admin_down:  # Flight answered: the freshness it gave is left unjudged without jobs
            return self._failed(conn, result, ["admin"], admin_down)
        record.heads = [(mark, source) for mark, source in heads.values()]
        head_marks = {network: mark for network, (mark, _) in heads.items()}
        record.states = [
            self._state(model, jobs.get(model.model_id), probes.get(model.model_id), head_marks)
            for model in models
        ]
        self._rows_processed(record, jobs, probes)
        store.write_poll(conn, record)
        return result

    def _failed(
        self, conn: sqlite3.Connection, result: PollResult, apis: list[str], message: str
    ) -> PollResult:
        """Record a poll that did not reach `apis` ("admin", "flight"): its outcome only."""
        record = result.record
        for api in apis:
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
        datasets = {(m.dataset_namespace, m.dataset_name): m for m in models if m.is_dataset}
        if not datasets:
            return {}
        assert self.admin is not None
        mine = [job for job in self.admin.iter_jobs("all", JOBS_PAGE) if _key(job) in datasets]
        known = store.known_jobs(conn, (j.id for j in mine))
        current = {}
        for model in datasets.values():
            job = _current_job(model, mine) or self._job_from_run(model)
            if job is not None:
                current[model.model_id] = (model, job)
        stored_events = {j.id: store.job_events(conn, j.id) for _, j in current.values()}
        with ThreadPoolExecutor(PROBE_THREADS) as pool:  # httpx clients are thread-safe
            futures = {
                uid: pool.submit(self._view, model, job, known.get(job.id), stored_events[job.id])
                for uid, (model, job) in current.items()
            }
            views = {uid: future.result() for uid, future in futures.items()}
        for view in views.values():
            if view.events is not None:
                record.events += view.events
            if view.progress is not None or view.events is not None:
                record.jobs.append(view.record)
        shown = {view.info.id for view in views.values()}
        record.jobs += [
            _job_record(datasets[_key(job)], job, None, known.get(job.id), None)
            for job in mine
            if job.id not in shown
        ]
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
        model: store.ModelRow,
        job: JobInfo,
        known: store.JobRecord | None,
        stored: list[store.EventRecord],
    ) -> JobView:
        """What Amp says about a job now. Events are append-only and come with a status change,
        so they are asked for only when the job changed; a finished, unchanged job not at all."""
        assert self.admin is not None
        changed = known is None or known.updated_at != job.updated_at
        if not changed and job.terminal:
            return JobView(job, None, known)
        progress = self.admin.progress(job.id)
        if not changed:
            return JobView(job, progress, _job_record(model, job, progress, known, None))
        details = {e.event_id: e.detail for e in stored}
        events = []
        for e in self.admin.events(job.id):
            detail = e.detail
            if e.event_type in FAILED_STATUSES:  # Amp's error payload is one more call
                detail = details.get(e.id) or self.admin.event(job.id, e.id).detail
            events.append(
                store.EventRecord(job.id, e.id, e.event_type, e.created_at, e.node_id, detail)
            )
        return JobView(job, progress, _job_record(model, job, progress, known, events), events)

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
        if not failure:
            verdict = self._lifecycle(model, job, verdict)
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

    def _lifecycle(
        self, model: store.ModelRow, job: JobView | None, verdict: Freshness
    ) -> Freshness:
        """What a dataset's job says beyond its blocks: registered only (no job), done at its
        end block, or stopped (a stale verdict then says so)."""
        if not model.is_dataset or self.admin is None:
            return verdict
        if job is None:
            return replace(
                verdict,
                status=NOT_DEPLOYED,
                reason=(
                    f"registered as {model.deployed_reference}, not deployed (no job): set "
                    f"deploy: true and run dbt, or `amp-dbt-monitor jobs resume {model.name}`"
                ),
            )
        info = job.info
        end = info.descriptor.get("end_block")
        if info.status == "COMPLETED" and end is not None:
            reached = f" (data through block {verdict.latest.block:,})" if verdict.latest else ""
            return replace(
                verdict,
                status=COMPLETE,
                reason=f"job {info.id} COMPLETED at its end block "
                f"{end if str(end).isdigit() else f'({end})'}{reached}",
            )
        if verdict.status == STALE and info.status in STOPPED_STATUSES:
            return replace(
                verdict,
                reason=f"job {info.id} is {info.status} (resume it with `amp-dbt-monitor jobs "
                f"resume {model.name}`): {verdict.reason}",
            )
        return verdict

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


def _key(job: JobInfo) -> tuple[str | None, str | None]:
    """(namespace, dataset name) of the dataset a job materializes."""
    return job.descriptor.get("dataset_namespace"), job.descriptor.get("dataset_name")


def _job_record(
    model: store.ModelRow,
    job: JobInfo,
    progress: JobProgress | None,
    known: store.JobRecord | None,
    events: list[store.EventRecord] | None,
) -> store.JobRecord:
    """A job_history row from what Amp says now, and what was recorded before (`events` and
    `progress` None: not asked this time)."""
    previous = known or store.JobRecord(job.id, None, None, None, job.status)
    started = ended = error = None
    if events is not None:
        started = next((e.created_at for e in events if e.event_type == "RUNNING"), None)
        ended = next((e.created_at for e in reversed(events) if e.event_type == job.status), None)
        failed = next(
            (e.detail for e in reversed(events) if e.event_type in FAILED_STATUSES), None
        )
        error = _error_text((progress.detail if progress else None) or failed)
    table = progress.tables.get(model.dataset_table or "") if progress else None
    failing = job.status in FAILED_STATUSES
    return store.JobRecord(
        job_id=job.id,
        model_id=model.model_id,
        model_name=model.name,
        dataset=job.dataset,
        status=job.status,
        end_block=job.descriptor.get("end_block"),
        created_at=job.created_at,
        started_at=started or previous.started_at,
        completed_at=(ended or previous.completed_at or job.updated_at) if job.terminal else None,
        updated_at=job.updated_at,
        final_block=table.current_block if table else previous.final_block,
        rows_processed=previous.rows_processed,
        files_count=table.files_count if table else previous.files_count,
        total_size_bytes=table.total_size_bytes if table else previous.total_size_bytes,
        error=(error or previous.error) if failing else None,
    )


def _error_text(detail: object) -> str | None:
    """`CODE: message` from Amp's error detail (`{error_code, error_message, error_context}`)."""
    if isinstance(detail, dict) and detail.get("error_code"):
        return f"{detail['error_code']}: {detail.get('error_message', '')}"
    return None
