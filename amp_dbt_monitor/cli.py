"""`amp-dbt-monitor`: job and freshness monitoring for dbt-amp projects.

A thin layer over `Monitor` (monitor.py): each command parses its options, ingests the dbt
artifacts if they changed, polls Amp unless told not to, reads state.db and shows the result.

Exit codes: 0 all good; 1 an error (its message says what to fix); 2 bad usage; 3 `alerts`
found stale or failed models; 4 Amp did not answer (what is shown is the last known state).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from amp_dbt_monitor import store, views
from amp_dbt_monitor.errors import ArtifactError, MonitorError
from amp_dbt_monitor.freshness import PROBLEMS
from amp_dbt_monitor.monitor import Monitor
from amp_dbt_monitor.project import ProfileOptions, find_project

EXIT_ALERTS = 3
EXIT_UNREACHABLE = 4
INTERVAL_ENV = "AMP_DBT_MONITOR_INTERVAL"
DEFAULT_INTERVAL = 5.0
# lines of the `watch` screen around its table rows (header, table frame, caption, key help)
DASHBOARD_LINES = 10
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Exit(click.ClickException):
    """A message for the user and the exit code that says what happened."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="dbt-amp", prog_name="amp-dbt-monitor")
def cli() -> None:
    """Amp job status and data freshness of a dbt-amp project, kept in .amp-dbt/state.db."""


# --- shared options -----------------------------------------------------------------------------


def project_options(fn: Callable) -> Callable:
    """dbt's own connection options and environment variables."""
    options = [
        click.option(
            "--project-dir",
            envvar="DBT_PROJECT_DIR",
            type=click.Path(file_okay=False),
            help="The dbt project (default: the current directory or the nearest parent with a "
            "dbt_project.yml).",
        ),
        click.option(
            "--profiles-dir",
            envvar="DBT_PROFILES_DIR",
            type=click.Path(file_okay=False),
            help="The folder with profiles.yml (default: as dbt: the current directory, then "
            "the project, then ~/.dbt).",
        ),
        click.option("--profile", envvar="DBT_PROFILE", help="Profile (default: the project's)."),
        click.option("--target", "-t", envvar="DBT_TARGET", help="Target of the profile."),
        click.option(
            "--target-path",
            envvar="DBT_TARGET_PATH",
            help="Where dbt wrote its artifacts (default: the project's target-path, 'target').",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        fn
    )


def poll_option(fn: Callable) -> Callable:
    return click.option(
        "--no-poll",
        is_flag=True,
        help="Show the stored state without asking Amp (no profile or network needed).",
    )(fn)


def select_options(fn: Callable) -> Callable:
    fn = click.option(
        "--all", "all_", is_flag=True, help="Also list models that are not monitored."
    )(fn)
    return click.option(
        "--select",
        "-s",
        multiple=True,
        help="Models by name or glob (stg_*), tag:NAME or path:GLOB; repeatable.",
    )(fn)


@contextmanager
def opened(project_kwargs: dict[str, Any]) -> Iterator[Monitor]:
    """The project's Monitor; the monitor's errors become one message and exit code 1."""
    try:
        project = find_project(project_kwargs["project_dir"], project_kwargs["target_path"])
        options = ProfileOptions(
            project_kwargs["profiles_dir"], project_kwargs["profile"], project_kwargs["target"]
        )
        with Monitor(project, options) as monitor:
            yield monitor
    except MonitorError as exc:
        raise Exit(str(exc)) from None


def command(fn: Callable) -> Callable:
    """Split the shared project options off a command's keyword arguments."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        project = {k: kwargs.pop(k) for k in PROJECT_KEYS}
        return fn(project, **kwargs)

    return wrapper


PROJECT_KEYS = ("project_dir", "profiles_dir", "profile", "target", "target_path")


def warn(message: str) -> None:
    click.secho(f"warning: {message}", fg="yellow", err=True)


def refresh(monitor: Monitor, no_poll: bool) -> bool:
    """Ingest changed artifacts and poll Amp (unless `no_poll`); warnings go to stderr. True
    when Amp answered (or was not asked)."""
    monitor.ingest()
    if no_poll:
        return True
    result = monitor.poll()
    for message in result.warnings:
        warn(message)
    if not result.reached_amp:
        good = monitor.last_poll(reached_amp=True)
        when = f"of {views.short_time(good.finished_at)} UTC" if good else "(never polled)"
        warn(f"showing the last known state {when}")
    return result.reached_amp


def finish(reached_amp: bool, alerts: bool = False) -> None:
    if not reached_amp:
        sys.exit(EXIT_UNREACHABLE)
    if alerts:
        sys.exit(EXIT_ALERTS)


def selected(rows: Sequence[store.ModelStatus], selectors: Sequence[str]) -> list:
    """Rows matching any selector: a name or glob, `tag:NAME`, `path:GLOB`, or a unique id."""
    terms = [t for s in selectors for t in s.split()]
    if not terms:
        return list(rows)
    return [r for r in rows if any(_matches(r, t) for t in terms)]


def _matches(row: store.ModelStatus, term: str) -> bool:
    method, _, value = term.partition(":")
    if value and method == "tag":
        return value in row.tags
    if value and method == "path":
        return fnmatch.fnmatch(row.path, value) or row.path.startswith(value.rstrip("/") + "/")
    if value:
        raise Exit(
            f"unknown selector {term!r}: use a model name or glob, tag:NAME or path:GLOB", 2
        )
    return fnmatch.fnmatchcase(row.name, term) or row.model_id == term


# --- status, alerts, watch, history -------------------------------------------------------------


@cli.command()
@select_options
@poll_option
@json_option
@project_options
@command
def status(project, select, all_, no_poll, as_json):
    """Freshness of each monitored model: status, latest block, blocks and block time behind
    the chain head.

    Monitored: dataset models and models with track_progress: true. A model is stale when its
    data is more than its alert_threshold_minutes (default 30) of block time behind the head.

    Example:

    \b
        amp-dbt-monitor status
        amp-dbt-monitor status --select 'stg_*' --json
    """
    with opened(project) as monitor:
        reached = refresh(monitor, no_poll)
        rows = selected(monitor.statuses(all_ or bool(select)), select)
        if as_json:
            views.print_json([r.to_json() for r in rows])
        else:
            console = views.make_console()
            caption = views.poll_caption(monitor.last_poll(), monitor.last_poll(True))
            views.status_view(rows, console.is_terminal).show(console, caption)
    finish(reached)


@cli.command()
@click.option("--select", "-s", multiple=True, help="Models by name or glob, tag:, path:.")
@poll_option
@json_option
@project_options
@command
def alerts(project, select, no_poll, as_json):
    """One line per stale or failed model; exit code 3 when there is any (for cron and CI).

    Prints nothing when all is well (on a terminal, a one-line summary). Exit code 4 when Amp
    did not answer: the alerts are then those of the last known state.

    Example:

    \b
        amp-dbt-monitor alerts || notify-team
    """
    with opened(project) as monitor:
        reached = refresh(monitor, no_poll)
        rows = selected(monitor.statuses(), select)
        problems = [r for r in rows if r.status in PROBLEMS]
        if as_json:
            views.print_json([r.to_json() for r in problems])
        else:
            for line in views.alert_lines(problems):
                click.echo(line)
            if not problems and sys.stdout.isatty():
                click.echo(f"no alerts ({len(rows)} monitored models)")
    finish(reached, alerts=bool(problems))


@cli.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    envvar=INTERVAL_ENV,
    default=DEFAULT_INTERVAL,
    show_default=True,
    help=f"Seconds between refreshes (or set {INTERVAL_ENV}).",
)
@click.option("--iterations", type=click.IntRange(min=1), help="Stop after this many refreshes.")
@select_options
@poll_option
@json_option
@project_options
@command
def watch(project, interval, iterations, select, all_, no_poll, as_json):
    """Live dashboard: model, job, job status, progress, block. 'q' quits, 'r' refreshes now.

    Refreshes in place on a terminal; piped, it prints one table per refresh (with --json one
    JSON array per line).

    Example:

    \b
        amp-dbt-monitor watch --interval 10
    """
    from rich.text import Text

    from amp_dbt_monitor import watch as live

    state = {"reached": True}
    with opened(project) as monitor:
        console = views.make_console()
        header = f"amp-dbt-monitor · {monitor.project.name} · refreshing every {interval:g}s"

        def frame():
            monitor.ingest()
            warnings: list[str] = []
            if not no_poll:
                result = monitor.poll()
                state["reached"] = result.reached_amp
                warnings = result.warnings
            rows = selected(monitor.statuses(all_ or bool(select)), select)
            if as_json:
                return Text(json.dumps([r.to_json() for r in rows], default=str))
            caption = views.poll_caption(monitor.last_poll(), monitor.last_poll(True))
            fits = (
                console.height - DASHBOARD_LINES - len(warnings) if console.is_terminal else None
            )
            return views.dashboard(rows, console.is_terminal, header, caption, warnings, fits)

        try:
            live.run(frame, console, interval, iterations, separate=not as_json)
        except MonitorError as exc:
            raise Exit(str(exc)) from None
    finish(state["reached"])


@cli.command()
@click.argument("model", required=False)
@click.option("--limit", type=click.IntRange(min=1), help="Newest N jobs only.")
@poll_option
@json_option
@project_options
@command
def history(project, model, limit, no_poll, as_json):
    """The Amp jobs of the project's dataset models, newest first (of MODEL when given).

    Example:

    \b
        amp-dbt-monitor history erc20_transfers --limit 5
    """
    with opened(project) as monitor:
        reached = refresh(monitor, no_poll)
        jobs = store.job_history(monitor.conn, model, limit)
        if model and not jobs and store.model_named(monitor.conn, model) is None:
            raise Exit(f"no model named {model!r} in the manifest and no job recorded for it")
        if as_json:
            views.print_json([j.to_json() for j in jobs])
        else:
            console = views.make_console()
            views.history_view(jobs).show(console)
    finish(reached)


@cli.command()
@click.option("--force", is_flag=True, help="Read the artifacts even if they did not change.")
@project_options
@command
def ingest(project, force):
    """Read target/manifest.json and target/run_results.json into state.db (every command does
    this first when they changed).

    Example:

    \b
        amp-dbt-monitor ingest --project-dir my_project
    """
    with opened(project) as monitor:
        summary = monitor.ingest(force)
        where = monitor.project.target_dir
        if summary.manifest:
            click.echo(
                f"ingested {summary.models} models ({summary.tracked} monitored) from {where}"
            )
        else:
            click.echo(f"up to date: {summary.models} models ({summary.tracked} monitored)")


# --- jobs ---------------------------------------------------------------------------------------


@cli.group()
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
        "id": job.id,
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
        rows.sort(key=lambda r: r["id"], reverse=True)
        if as_json:
            views.print_json(rows)
        else:
            views.jobs_view(rows).show(views.make_console())
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
            job["tables"] = {
                name: {
                    "start_block": t.start_block,
                    "current_block": t.current_block,
                    "files_count": t.files_count,
                    "total_size_bytes": t.total_size_bytes,
                }
                for name, t in progress.tables.items()
            }
            detail = progress.detail or {}
            if detail.get("error_code"):
                job["error"] = f"{detail['error_code']}: {detail.get('error_message', '')}"
        if as_json:
            views.print_json(job)
        else:
            views.job_detail_view(job).show(views.make_console())
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
        if as_json:
            views.print_json([e.to_json() for e in events])
        else:
            views.events_view(job_id, events).show(views.make_console())
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
