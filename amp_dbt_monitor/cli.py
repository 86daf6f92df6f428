"""`amp-dbt-monitor`: job and freshness monitoring for dbt-amp projects.

A thin layer over `Monitor` (monitor.py): each command parses its options, ingests the dbt
artifacts if they changed, polls Amp unless told not to, reads state.db and shows the result
(views.py). The `jobs` commands are in cli_jobs.py; the options, exit codes and error boundary they
all share are in options.py.
"""

from __future__ import annotations

import json
import sys

import click

from amp_dbt_monitor import store, views
from amp_dbt_monitor.cli_jobs import jobs
from amp_dbt_monitor.errors import ArtifactError, MonitorError
from amp_dbt_monitor.freshness import PROBLEMS
from amp_dbt_monitor.options import (
    CONTEXT_SETTINGS,
    DASHBOARD_LINES,
    DEFAULT_INTERVAL,
    INTERVAL_ENV,
    Exit,
    command,
    finish,
    json_option,
    opened,
    poll_option,
    project_options,
    refresh,
    select_options,
    selected,
)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="dbt-amp", prog_name="amp-dbt-monitor")
def cli() -> None:
    """Amp job status and data freshness of a dbt-amp project, kept in .amp-dbt/state.db."""


# --- shared options -----------------------------------------------------------------------------


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
            views.print_json(views.status_json(rows, *monitor.poll_outcomes()))
        else:
            console = views.make_console()
            caption = views.poll_caption(*monitor.poll_outcomes())
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
            views.print_json(views.status_json(problems, *monitor.poll_outcomes()))
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
            warnings: list[str] = []
            try:
                monitor.ingest()
            except ArtifactError as exc:  # e.g. dbt is rewriting it right now
                if not store.model_counts(monitor.conn)[0]:
                    raise
                warnings.append(f"{exc}; showing the models of the last good one")
            if not no_poll:
                result = monitor.poll()
                state["reached"] = result.reached_amp
                warnings += result.warnings
            rows = selected(monitor.statuses(all_ or bool(select)), select)
            if as_json:
                rows_json = views.status_json(rows, *monitor.poll_outcomes())
                return Text(json.dumps(rows_json, default=str))
            caption = views.poll_caption(*monitor.poll_outcomes())
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
        views.print_or_show([j.to_json() for j in jobs], as_json, lambda: views.history_view(jobs))
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


cli.add_command(jobs)
