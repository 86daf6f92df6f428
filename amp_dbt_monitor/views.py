"""How the monitor shows things: rich tables in colour on a terminal, plain aligned columns when
piped (no colour codes, no box drawing: easy to grep and cut), JSON with `--json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from amp_dbt_monitor.freshness import format_duration, format_minutes
from amp_dbt_monitor.store import EventRecord, JobRecord, ModelStatus, PollOutcome

STATUS_STYLE = {
    "fresh": ("●", "green"),
    "stale": ("▲", "yellow"),
    "error": ("✖", "bold red"),
    "unknown": ("?", "dim"),
    "complete": ("✔", "green"),
    "not deployed": ("○", "dim"),
    "untracked": ("·", "dim"),
}
JOB_STATUS_STYLE = {
    "RUNNING": "cyan",
    "SCHEDULED": "blue",
    "COMPLETED": "green",
    "STOPPED": "yellow",
    "STOP_REQUESTED": "yellow",
    "STOPPING": "yellow",
    "ERROR": "bold red",
    "FATAL": "bold red",
}


def make_console(file: Any = None) -> Console:
    """Colour and boxes on a terminal; plain when piped. NO_COLOR is honoured (rich)."""
    return Console(file=file, highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    """JSON to stdout, as-is (no colour codes, so pipes and `jq` get clean text)."""
    import click

    click.echo(json.dumps(data, indent=2, default=str))


def print_or_show(data: Any, as_json: bool, view: Callable[[], View]) -> None:
    """A read command's output: `data` as JSON under --json, else the table `view` builds."""
    if as_json:
        print_json(data)
    else:
        view().show(make_console())


# --- tables -------------------------------------------------------------------------------------


class View:
    """A table of rows with optional per-cell styles: a rich Table on a terminal, plain aligned
    text otherwise."""

    def __init__(self, title: str, headers: Sequence[str], right: Sequence[str] = ()) -> None:
        self.title = title
        self.headers = list(headers)
        self.right = set(right)  # columns aligned right (numbers)
        self.rows: list[list[str]] = []
        self.styles: list[list[str | None]] = []

    def add(self, *cells: Any, styles: Sequence[str | None] = ()) -> None:
        self.rows.append(["-" if c is None or c == "" else str(c) for c in cells])
        self.styles.append(list(styles) + [None] * (len(cells) - len(styles)))

    def rich(self, caption: str | None = None) -> Table:
        # a rule under the header and no wrapping: readable, and fast for 1,000s of rows
        table = Table(title=self.title, caption=caption, title_justify="left", box=box.SIMPLE_HEAD)
        for header in self.headers:
            justify = "right" if header in self.right else "left"
            table.add_column(header, justify=justify, no_wrap=True)
        for row, styles in zip(self.rows, self.styles, strict=True):
            table.add_row(*(Text(c, style=s or "") for c, s in zip(row, styles, strict=True)))
        return table

    def plain(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        lines = [self._line(self.headers, widths)]
        lines += [self._line(row, widths) for row in self.rows]
        return "\n".join(lines)

    def _line(self, cells: Sequence[str], widths: list[int]) -> str:
        out = [
            c.rjust(w) if h in self.right else c.ljust(w)
            for c, w, h in zip(cells, widths, self.headers, strict=True)
        ]
        return "  ".join(out).rstrip()

    def show(self, console: Console, caption: str | None = None) -> None:
        if console.is_terminal:
            console.print(self.rich(caption))
            return
        text = self.plain() + (f"\n{caption}" if caption else "")
        console.print(text, markup=False, highlight=False, crop=False, soft_wrap=True)


def _block(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _status_cell(status: str, terminal: bool = True) -> tuple[str, str | None]:
    mark, style = STATUS_STYLE.get(status, ("", None))
    return (f"{mark} {status}" if terminal else status), style


def status_view(rows: Sequence[ModelStatus], terminal: bool) -> View:
    """The original design's table: model, status, latest block, age (in block time)."""
    view = View(
        "Model freshness",
        ["Model", "Status", "Latest block", "Behind", "Age", "Threshold", "Job"],
        right=["Latest block", "Behind", "Age", "Threshold", "Job"],
    )
    for r in rows:
        text, style = _status_cell(r.status, terminal)
        view.add(
            r.name,
            text,
            _block(r.latest_block),
            None if r.lag_blocks is None else f"{r.lag_blocks:,}",
            format_duration(r.lag_seconds) if r.lag_seconds is not None else None,
            format_minutes(r.alert_threshold_minutes) if r.tracked else None,
            r.job_id,
            styles=[None, style],
        )
    return view


def dashboard_view(rows: Sequence[ModelStatus], terminal: bool) -> View:
    """`watch`: model, job id, job status, progress %, block, freshness."""
    view = View(
        "Amp jobs",
        ["Model", "Job", "Job status", "Progress", "Block", "Head", "Freshness"],
        right=["Job", "Progress", "Block", "Head"],
    )
    for r in rows:
        text, style = _status_cell(r.status, terminal)
        view.add(
            r.name,
            r.job_id,
            r.job_status,
            progress_text(r.progress),
            _block(r.latest_block),
            _block(r.head_block),
            text,
            styles=[None, None, JOB_STATUS_STYLE.get(r.job_status or ""), None, None, None, style],
        )
    return view


def progress_text(progress: float | None) -> str | None:
    """`100%` only when done; short of it, one decimal rounded down (`99.9%`)."""
    if progress is None:
        return None
    return "100%" if progress >= 100 else f"{math.floor(progress * 10) / 10:.1f}%"


def history_view(jobs: Sequence[JobRecord], title: str = "Job history") -> View:
    view = View(
        title,
        ["Job", "Model", "Status", "Started", "Completed", "Final block", "Rows", "Error"],
        right=["Job", "Final block", "Rows"],
    )
    for j in jobs:
        view.add(
            j.job_id,
            j.model_name,
            j.status,
            short_time(j.started_at or j.created_at),
            short_time(j.completed_at),
            _block(j.final_block),
            None if j.rows_processed is None else f"{j.rows_processed:,}",
            j.error,
            styles=[None, None, JOB_STATUS_STYLE.get(j.status)],
        )
    return view


def jobs_view(jobs: Sequence[dict]) -> View:
    """`jobs list`: Amp's jobs (dicts of `job_json`)."""
    view = View(
        "Amp jobs",
        ["Job", "Model", "Dataset", "Status", "End block", "Created", "Updated"],
        right=["Job"],
    )
    for j in jobs:
        view.add(
            j["job_id"],
            j.get("model"),
            short_reference(j.get("dataset")),
            j["status"],
            j.get("end_block") or "continuous",
            short_time(j.get("created_at")),
            short_time(j.get("updated_at")),
            styles=[None, None, None, JOB_STATUS_STYLE.get(j["status"])],
        )
    return view


def events_view(job_id: int, events: Sequence[EventRecord]) -> View:
    view = View(f"Events of job {job_id}", ["Event", "Type", "Time", "Node", "Detail"], ["Event"])
    for e in events:
        view.add(
            e.event_id,
            e.event_type,
            short_time(e.created_at),
            e.node_id,
            _detail(e.detail),
            styles=[None, JOB_STATUS_STYLE.get(e.event_type)],
        )
    return view


def job_detail_view(job: dict) -> View:
    """`jobs status`: one job and its tables' progress."""
    view = View(f"Job {job['job_id']}", ["Field", "Value"])
    view.add("status", job["status"], styles=[None, JOB_STATUS_STYLE.get(job["status"])])
    view.add("model", job.get("model"))
    view.add("dataset", job.get("dataset"))
    view.add("end_block", job.get("end_block") or "none (continuous)")
    view.add("node_id", job.get("node_id"))
    view.add("created_at", short_time(job.get("created_at")))
    view.add("updated_at", short_time(job.get("updated_at")))
    for name, t in (job.get("tables") or {}).items():
        view.add(
            f"table {name}",
            f"blocks {_block(t.get('start_block'))} → {_block(t.get('current_block'))}, "
            f"{t.get('files_count', 0)} files, {t.get('total_size_bytes', 0):,} bytes",
        )
    if job.get("error"):
        view.add("error", job["error"], styles=[None, "bold red"])
    return view


def short_reference(reference: str | None) -> str | None:
    """`ns/name@1a2b3c4d5e6f…` for a reference pinned to a 64-hex manifest hash (tables only)."""
    if not reference:
        return reference
    head, _, revision = reference.rpartition("@")
    if len(revision) == 64:
        return f"{head}@{revision[:12]}…"
    return reference


def _detail(detail: Any) -> str | None:
    if not detail:
        return None
    if isinstance(detail, dict) and detail.get("error_code"):
        return f"{detail['error_code']}: {detail.get('error_message', '')}"
    if isinstance(detail, dict) and detail.get("kind"):
        end = detail.get("end_block")
        return f"{detail['kind']}, end_block {end if end is not None else 'none (continuous)'}"
    return json.dumps(detail, default=str)[:200]


def short_time(value: str | None) -> str | None:
    """`2026-03-01 12:00:05` from an RFC 3339 time stamp (as given when it does not parse)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# --- lines --------------------------------------------------------------------------------------


def alert_lines(rows: Sequence[ModelStatus]) -> list[str]:
    """One line per problem: `STALE model: reason` (Amp's multi-line messages joined)."""
    return [f"{r.status.upper()} {r.name}: {' '.join(r.reason.split())}" for r in rows]


def status_json(
    rows: Sequence[ModelStatus], last: PollOutcome | None, good: PollOutcome | None
) -> list[dict[str, Any]]:
    """The rows of `status`/`alerts`/`watch --json`, each saying how old its state is:
    `poll_error` (why the newest poll did not reach Amp; null when it did) and
    `last_successful_poll` (when Amp last answered; null: never). A model Amp never answered
    for is `unknown`, whatever an older state said."""
    error = (last.message or "Amp did not answer") if last and not last.reached_amp else None
    out = []
    for row in rows:
        data = row.to_json()
        data["poll_error"] = error
        data["last_successful_poll"] = good.finished_at if good else row.last_updated
        if data["last_successful_poll"] is None and row.tracked:
            data["status"], data["reason"] = "unknown", "Amp has not answered a poll yet"
        out.append(data)
    return out


def poll_caption(last: PollOutcome | None, good: PollOutcome | None) -> str:
    if last is None:
        return "not polled yet"
    if last.reached_amp:
        return f"polled {short_time(last.finished_at)} UTC"
    since = f"last successful poll {short_time(good.finished_at)} UTC" if good else "never polled"
    return f"Amp unreachable at {short_time(last.finished_at)} UTC; {since}"


ATTENTION = {"error": 0, "stale": 1, "unknown": 2}


def dashboard(
    rows: Sequence[ModelStatus],
    terminal: bool,
    header: str,
    caption: str,
    warnings: Sequence[str] = (),
    max_rows: int | None = None,
) -> RenderableType:
    """The whole `watch` screen: problems first; on a terminal, as many rows as fit (`max_rows`)
    and a count of the rest."""
    ordered = sorted(rows, key=lambda r: (ATTENTION.get(r.status, 3), r.name))
    shown = ordered if max_rows is None else ordered[: max(max_rows, 1)]
    parts: list[RenderableType] = [Text(header, style="bold")]
    parts += [Text(f"warning: {w}", style="yellow") for w in warnings]
    view = dashboard_view(shown, terminal)
    parts.append(view.rich(caption) if terminal else Text(view.plain() + "\n" + caption))
    if len(shown) < len(ordered):
        rest = ordered[len(shown) :]
        problems = sum(r.status in ATTENTION for r in rest)
        parts.append(
            Text(
                f"… {len(rest):,} more models ({problems:,} stale, failed or unknown): "
                "narrow with --select, or see them all with `status`",
                style="dim",
            )
        )
    if terminal:
        parts.append(Text("Press 'q' to quit, 'r' to refresh", style="dim"))
    return Group(*parts)
