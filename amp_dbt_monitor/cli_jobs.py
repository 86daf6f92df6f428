"""`amp-dbt-monitor jobs …`: Amp's jobs, live from the Admin API (the stored state when it does
not answer), and the two commands that change them: `stop` and `resume`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import click

from amp_dbt_monitor import store, views
from amp_dbt_monitor.errors import ArtifactError
from amp_dbt_monitor.monitor import Monitor
from amp_dbt_monitor.options import (
    EXIT_UNREACHABLE,
    Exit,
    command,
    finish,
    json_option,
    opened,
    project_options,
    warn,
)


@click.group()
def jobs() -> None:
    """Amp's jobs: list, status, events (alias: logs), stop, resume."""


@contextmanager
def admin_of(monitor: Monitor) -> Iterator[Any]:
    from dbt.adapters.amp.admin import AdminAuthError, AdminError

    with monitor.admin() as admin:
        try:
            yield admin
        except AdminAuthError as exc:
            raise Exit(f"Amp's Admin API refused the token: {exc}") from None
        except AdminError as exc:
            if exc.status is None or exc.status >= 500:
                raise Unreachable(str(exc)) from None
            raise Exit(f"Amp: {exc}") from None


class Unreachable(Exception):
    """The Admin API did not answer (read commands fall back to the stored state)."""


def _models_by_dataset(monitor: Monitor) -> dict[tuple[str, str], str]:
    try:
        monitor.ingest()
    except ArtifactError as exc:
        warn(f"{exc} (jobs are listed without their models)")
        return {}
    return store.dataset_models(monitor.conn)


def job_json(job: Any, models: dict[tuple[str, str], str]) -> dict[str, Any]:
    d = job.descriptor
    return {
        "job_id": job.id,
        "id": job.id,  # the field's earlier name, kept for existing scripts
        "status": job.status,
        "model": models.get((d.get("dataset_namespace"), d.get("dataset_name"))),
        "dataset": job.dataset,
        "end_block": d.get("end_block"),
        "node_id": job.node_id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


def _stored_job_json(job: store.JobRecord) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "id": job.job_id,
        "status": job.status,
        "model": job.model_name,
        "dataset": job.dataset,
        "end_block": job.end_block,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "final_block": job.final_block,
        "error": job.error,
    }


@jobs.command("list")
@click.option(
    "--status",
    "status_filter",
    default="all",
    show_default=True,
    help="all, active, or Amp statuses separated by commas (running,error).",
)
@json_option
@project_options
@command
def jobs_list(project, status_filter, as_json):
    """Amp's jobs (with the model each belongs to), newest first.

    Example:

    \b
        amp-dbt-monitor jobs list --status active
    """
    with opened(project) as monitor:
        models = _models_by_dataset(monitor)
        reached = True
        try:
            with admin_of(monitor) as admin:
                rows = [job_json(j, models) for j in admin.iter_jobs(status_filter, 1000)]
        except Unreachable as exc:
            reached = False
            warn(f"{exc}; showing the jobs recorded in state.db")
            rows = [_stored_job_json(j) for j in store.job_history(monitor.conn)]
        rows.sort(key=lambda r: r["job_id"], reverse=True)
        views.print_or_show(rows, as_json, lambda: views.jobs_view(rows))
    finish(reached)


@jobs.command("status")
@click.argument("job_id", type=int)
@json_option
@project_options
@command
def jobs_status(project, job_id, as_json):
    """One job: status, dataset, and each table's synced block range.

    Example:

    \b
        amp-dbt-monitor jobs status 12
    """
    with opened(project) as monitor:
        models = _models_by_dataset(monitor)
        reached = True
        try:
            with admin_of(monitor) as admin:
                job = job_json(admin.job(job_id), models)
                progress = admin.progress(job_id)
        except Unreachable as exc:
            reached = False
            stored = store.known_jobs(monitor.conn, [job_id]).get(job_id)
            if stored is None:
                raise Exit(
                    f"{exc}; and job {job_id} is not in state.db", EXIT_UNREACHABLE
                ) from None
            warn(f"{exc}; showing job {job_id} as last recorded in state.db")
            job = _stored_job_json(stored)
        else:
            job["tables"] = {name: asdict(t) for name, t in progress.tables.items()}
            detail = progress.detail or {}
            if detail.get("error_code"):
                job["error"] = f"{detail['error_code']}: {detail.get('error_message', '')}"
        views.print_or_show(job, as_json, lambda: views.job_detail_view(job))
    finish(reached)


@jobs.command("events")
@click.argument("job_id", type=int)
@json_option
@project_options
@command
def jobs_events(project, job_id, as_json):
    """A job's lifecycle events with their detail (Amp has no log endpoint: these are its log).

    Example:

    \b
        amp-dbt-monitor jobs events 12
        amp-dbt-monitor jobs logs 12
    """
    with opened(project) as monitor:
        reached = True
        try:
            with admin_of(monitor) as admin:
                events = [
                    store.EventRecord(
                        job_id,
                        e.id,
                        e.event_type,
                        e.created_at,
                        e.node_id,
                        admin.event(job_id, e.id).detail,
                    )  # fmt: skip
                    for e in admin.events(job_id)
                ]
        except Unreachable as exc:
            reached = False
            warn(f"{exc}; showing the events recorded in state.db")
            events = store.job_events(monitor.conn, job_id)
        views.print_or_show(
            [e.to_json() for e in events], as_json, lambda: views.events_view(job_id, events)
        )
    finish(reached)


jobs.add_command(jobs_events, name="logs")


@jobs.command("stop")
@click.argument("job_id", type=int)
@project_options
@command
def jobs_stop(project, job_id):
    """Ask Amp to stop a job (it goes STOP_REQUESTED, then STOPPED). Resume with `jobs resume`.

    Example:

    \b
        amp-dbt-monitor jobs stop 12
    """
    with opened(project) as monitor:
        try:
            with admin_of(monitor) as admin:
                before = admin.job(job_id)
                admin.stop_job(job_id)
                after = admin.job(job_id)
        except Unreachable as exc:
            raise Exit(f"{exc}; job {job_id} was not stopped", EXIT_UNREACHABLE) from None
        click.echo(f"job {job_id} ({after.dataset}): {before.status} → {after.status}")


@jobs.command("resume")
@click.argument("model")
@project_options
@command
def jobs_resume(project, model):
    """Redeploy a dataset model's dataset: Amp reschedules its job (same manifest, same job id)
    from where it stopped.

    Example:

    \b
        amp-dbt-monitor jobs resume erc20_transfers
    """
    with opened(project) as monitor:
        monitor.ingest()
        row = store.model_named(monitor.conn, model)
        if row is None:
            raise Exit(f"no model named {model!r} in {monitor.project.manifest_path}")
        if not row.is_dataset:
            raise Exit(
                f"model {model!r} is not a dataset model (materialized='dataset'): only Amp "
                "datasets have jobs to resume"
            )
        revision = row.manifest_hash or row.dataset_revision
        reference = f"{row.dataset_namespace}/{row.dataset_name}@{revision}"
        try:
            with admin_of(monitor) as admin:
                job_id = admin.deploy(
                    row.dataset_namespace, row.dataset_name, revision, row.end_block
                )
                job = admin.job(job_id)
        except Unreachable as exc:
            raise Exit(f"{exc}; {reference} was not redeployed", EXIT_UNREACHABLE) from None
        except Exit as exc:
            if "ACTIVE_JOB_CONFLICT" in exc.message:
                raise Exit(
                    f"{exc.message}\n{reference} has an active job with another end_block: stop "
                    "it first (amp-dbt-monitor jobs stop <id>)"
                ) from None
            raise
        click.echo(f"resumed {model}: job {job_id} of {reference} is {job.status}")
