"""What the commands share: dbt's connection options, `--json`, `--no-poll`, selection, the exit
codes, and the boundary where the monitor's errors become one message and an exit code.

Exit codes: 0 all good; 1 an error (its message says what to fix); 2 bad usage; 3 `alerts` found
stale or failed models; 4 Amp did not answer (what is shown is the last known state).
"""

from __future__ import annotations

import fnmatch
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from amp_dbt_monitor import store, views
from amp_dbt_monitor.errors import MonitorError
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
