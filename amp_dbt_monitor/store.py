"""The monitor's reads and writes of `.amp-dbt/state.db` (its tables are migration 2 of
dbt.adapters.amp.state, which owns the file, its connections and its migrations).

Every write is one `write_transaction` (BEGIN IMMEDIATE), so two monitors polling at once wait for
each other (busy timeout) instead of failing, and a reader always sees a whole ingest or a whole
poll. The CLI never writes SQL; it calls these functions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from amp_dbt_monitor.freshness import BlockMark
from dbt.adapters.amp.state import utc_now, write_transaction

if TYPE_CHECKING:
    from amp_dbt_monitor.ingest import Artifact, ModelSpec, RunRecord

# Chain-head samples and poll rows kept (older ones are pruned as new ones come in).
KEEP_HEAD_SAMPLES = 1_000
KEEP_POLLS = 1_000

# --- ingest -------------------------------------------------------------------------------------

_MODEL_COLUMNS = (
    "model_id, name, materialized, path, tags, tracked, track_column, alert_threshold_minutes, "
    "dataset_namespace, dataset_name, dataset_revision, dataset_table, end_block, probe_sql, "
    "upstream"
)
_UPSERT_MODEL = (
    f"INSERT INTO monitor_models ({_MODEL_COLUMNS}) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_id) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _MODEL_COLUMNS.split(",")[1:])
)
_UPDATE_RUN = (
    "UPDATE monitor_models SET run_status = ?, run_message = ?, run_at = ?, "
    "manifest_hash = coalesce(?, manifest_hash), job_id = coalesce(?, job_id) WHERE model_id = ?"
)
# A job first seen in run_results; a status polled from Amp since then is newer and is kept.
_UPSERT_RUN_JOB = """
    INSERT INTO job_history (job_id, model_id, model_name, dataset, status, end_block)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (job_id) DO UPDATE SET
        model_id = excluded.model_id,
        model_name = excluded.model_name,
        dataset = coalesce(job_history.dataset, excluded.dataset),
        status = CASE WHEN job_history.updated_at IS NULL THEN excluded.status
                 ELSE job_history.status END
"""


def artifact_fingerprints(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT kind, fingerprint FROM monitor_artifacts").fetchall())


def model_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(models, tracked models) of the last ingested manifest."""
    row = conn.execute("SELECT count(*), coalesce(sum(tracked), 0) FROM monitor_models").fetchone()
    return int(row[0]), int(row[1])


def write_ingest(
    conn: sqlite3.Connection,
    artifacts: Sequence[Artifact],
    models: Sequence[ModelSpec],
    runs: Sequence[RunRecord],
) -> None:
    """Replace the models with the manifest's, apply the run results, remember the artifacts:
    all or nothing. A model the new run results do not mention keeps its last run and job."""
    names = {m.model_id: m.name for m in models}
    with write_transaction(conn):
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS ingest_ids (model_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.ingest_ids")
        conn.executemany("INSERT INTO temp.ingest_ids VALUES (?)", ((m,) for m in names))
        conn.execute(
            "DELETE FROM monitor_models WHERE model_id NOT IN (SELECT model_id FROM temp.ingest_ids)"
        )
        conn.executemany(_UPSERT_MODEL, (_model_values(m) for m in models))
        conn.execute(
            "DELETE FROM model_state WHERE model_id IN "
            "(SELECT model_id FROM monitor_models WHERE tracked = 0)"
        )
        known = [r for r in runs if r.model_id in names]
        conn.executemany(
            _UPDATE_RUN,
            (
                (r.status, r.message, r.completed_at, r.manifest_hash, r.job_id, r.model_id)
                for r in known
            ),
        )
        conn.executemany(
            _UPSERT_RUN_JOB,
            (
                (
                    r.job_id,
                    r.model_id,
                    names[r.model_id],
                    r.dataset,
                    r.job_status or "UNKNOWN",
                    r.end_block,
                )  # fmt: skip
                for r in known
                if r.job_id is not None
            ),
        )
        conn.executemany(
            "INSERT OR REPLACE INTO monitor_artifacts (kind, path, fingerprint, invocation_id, "
            "generated_at, dbt_version, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    a.kind,
                    str(a.path),
                    a.fingerprint,
                    a.invocation_id,
                    a.generated_at,
                    a.dbt_version,
                    utc_now(),
                )  # fmt: skip
                for a in artifacts
            ),
        )


def _model_values(m: ModelSpec) -> tuple:
    return (
        m.model_id,
        m.name,
        m.materialized,
        m.path,
        json.dumps(list(m.tags)),
        int(m.tracked),
        m.track_column,
        m.alert_threshold_minutes,
        m.dataset_namespace,
        m.dataset_name,
        m.dataset_revision,
        m.dataset_table,
        m.end_block,
        m.probe_sql,
        json.dumps([list(p) for p in m.upstream]),
    )


# --- what a poll needs --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRow:
    """A model as a poll (or `jobs resume`) needs it."""

    model_id: str
    name: str
    track_column: str
    alert_threshold_minutes: float
    dataset_namespace: str | None
    dataset_name: str | None
    dataset_revision: str | None
    dataset_table: str | None
    end_block: str | None
    probe_sql: str | None
    upstream: tuple[tuple[str, str], ...]
    manifest_hash: str | None
    job_id: int | None
    run_status: str | None
    run_message: str | None

    @property
    def is_dataset(self) -> bool:
        return self.dataset_name is not None

    @property
    def dataset_reference(self) -> str | None:
        """`ns/name@rev` as configured (version, else dev)."""
        if not self.is_dataset:
            return None
        return f"{self.dataset_namespace}/{self.dataset_name}@{self.dataset_revision}"

    @property
    def deployed_reference(self) -> str | None:
        """`ns/name@<manifest hash>` of what dbt last registered, else the configured one."""
        if self.is_dataset and self.manifest_hash:
            return f"{self.dataset_namespace}/{self.dataset_name}@{self.manifest_hash}"
        return self.dataset_reference


def tracked_models(conn: sqlite3.Connection) -> list[ModelRow]:
    """The models a poll watches: dataset models and `track_progress` models."""
    return _models_where(conn, "tracked = 1", ())


def model_named(conn: sqlite3.Connection, name: str) -> ModelRow | None:
    """A model by name or unique id (the first by unique id when names repeat across packages)."""
    rows = _models_where(conn, "name = ? OR model_id = ?", (name, name))
    return rows[0] if rows else None


def _models_where(conn: sqlite3.Connection, where: str, args: tuple) -> list[ModelRow]:
    rows = conn.execute(
        "SELECT model_id, name, track_column, alert_threshold_minutes, dataset_namespace, "
        "dataset_name, dataset_revision, dataset_table, end_block, probe_sql, upstream, "
        "manifest_hash, job_id, run_status, run_message FROM monitor_models "
        f"WHERE {where} ORDER BY name, model_id",
        args,
    ).fetchall()
    return [
        ModelRow(*row[:10], tuple(tuple(p) for p in json.loads(row[10])), *row[11:])
        for row in rows
    ]


def latest_heads(conn: sqlite3.Connection) -> dict[str, BlockMark]:
    """The newest chain-head sample of each network."""
    rows = conn.execute(
        "SELECT network, block, block_timestamp FROM chain_heads WHERE sample_id IN "
        "(SELECT max(sample_id) FROM chain_heads GROUP BY network)"
    ).fetchall()
    return {network: BlockMark(network, block, ts) for network, block, ts in rows}


# --- a poll's results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRecord:
    """One Amp job of a project model, as the monitor last saw it (`job_history`)."""

    job_id: int
    model_id: str | None
    model_name: str | None
    dataset: str | None
    status: str
    end_block: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    updated_at: str | None = None
    final_block: int | None = None
    rows_processed: int | None = None
    files_count: int | None = None
    total_size_bytes: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EventRecord:
    job_id: int
    event_id: int
    event_type: str
    created_at: str
    node_id: str | None
    detail: Any = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StateRecord:
    """What one poll concluded about one model (`model_state`)."""

    model_id: str
    model_name: str
    status: str
    reason: str
    dataset_reference: str | None = None
    network: str | None = None
    latest_block: int | None = None
    latest_block_timestamp: int | None = None
    max_value: int | None = None
    row_count: int | None = None
    start_block: int | None = None
    head_block: int | None = None
    head_timestamp: int | None = None
    lag_blocks: int | None = None
    lag_seconds: int | None = None
    job_id: int | None = None
    job_status: str | None = None
    progress: float | None = None


@dataclass
class PollRecord:
    """Everything one poll learned, written in one transaction."""

    started_at: str
    admin: str  # ok | unreachable | not configured
    flight: str  # ok | unreachable | not needed
    message: str = ""
    jobs: list[JobRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    heads: list[tuple[BlockMark, str]] = field(default_factory=list)  # (head, source table)
    states: list[StateRecord] = field(default_factory=list)


_STATE_COLUMNS = [f for f in StateRecord.__dataclass_fields__]
_JOB_COLUMNS = [f for f in JobRecord.__dataclass_fields__]


def write_poll(conn: sqlite3.Connection, poll: PollRecord) -> None:
    """Record a poll. Only a poll that reached Amp carries jobs, heads and states; a failed one
    records just its outcome, so readers keep the last known state."""
    now = utc_now()
    with write_transaction(conn):
        conn.executemany(
            f"INSERT OR REPLACE INTO job_history ({', '.join(_JOB_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(_JOB_COLUMNS))})",
            (tuple(getattr(j, c) for c in _JOB_COLUMNS) for j in poll.jobs),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO job_events (job_id, event_id, event_type, created_at, node_id, "
            "detail) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    e.job_id,
                    e.event_id,
                    e.event_type,
                    e.created_at,
                    e.node_id,
                    None if e.detail is None else json.dumps(e.detail),
                )  # fmt: skip
                for e in poll.events
            ),
        )
        for head, source in poll.heads:
            conn.execute(
                "INSERT INTO chain_heads (network, block, block_timestamp, source, observed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (head.network, head.block, head.timestamp, source, now),
            )
        if poll.heads:
            conn.execute(
                "DELETE FROM chain_heads WHERE sample_id <= "
                "(SELECT max(sample_id) FROM chain_heads) - ?",
                (KEEP_HEAD_SAMPLES,),
            )
        conn.executemany(
            f"INSERT OR REPLACE INTO model_state ({', '.join(_STATE_COLUMNS)}, last_updated) "
            f"VALUES ({', '.join('?' * len(_STATE_COLUMNS))}, ?) ",
            (
                (*(getattr(s, c) for c in _STATE_COLUMNS), now)
                for s in poll.states
                if _exists(conn, s.model_id)
            ),
        )
        conn.execute(
            "INSERT INTO monitor_polls (started_at, finished_at, admin, flight, message) "
            "VALUES (?, ?, ?, ?, ?)",
            (poll.started_at, now, poll.admin, poll.flight, poll.message),
        )
        conn.execute(
            "DELETE FROM monitor_polls WHERE poll_id <= (SELECT max(poll_id) FROM monitor_polls) - ?",
            (KEEP_POLLS,),
        )


def _exists(conn: sqlite3.Connection, model_id: str) -> bool:
    """The model is still in the manifest (a re-ingest may have dropped it during the poll)."""
    row = conn.execute("SELECT 1 FROM monitor_models WHERE model_id = ?", (model_id,)).fetchone()
    return row is not None


def known_jobs(conn: sqlite3.Connection, job_ids: Iterable[int]) -> dict[int, JobRecord]:
    ids = list(job_ids)
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {', '.join(_JOB_COLUMNS)} FROM job_history WHERE job_id IN ({marks})", ids
    ).fetchall()
    return {row[0]: JobRecord(*row) for row in rows}


# --- reads for the commands ---------------------------------------------------------------------


@dataclass(frozen=True)
class ModelStatus:
    """One row of `status`: a model and its last known state."""

    model_id: str
    name: str
    materialized: str
    path: str
    tags: tuple[str, ...]
    tracked: bool
    alert_threshold_minutes: float
    status: str
    reason: str
    dataset_reference: str | None = None
    network: str | None = None
    latest_block: int | None = None
    latest_block_timestamp: int | None = None
    head_block: int | None = None
    head_timestamp: int | None = None
    lag_blocks: int | None = None
    lag_seconds: int | None = None
    job_id: int | None = None
    job_status: str | None = None
    progress: float | None = None
    row_count: int | None = None
    last_updated: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data


_STATUS_SELECT = """
    SELECT m.model_id, m.name, m.materialized, m.path, m.tags, m.tracked,
           m.alert_threshold_minutes,
           coalesce(s.status, CASE WHEN m.tracked = 1 THEN 'unknown' ELSE 'untracked' END),
           coalesce(s.reason, CASE WHEN m.tracked = 1 THEN 'not polled yet'
                              ELSE 'not monitored (set track_progress: true)' END),
           s.dataset_reference, s.network, s.latest_block, s.latest_block_timestamp,
           s.head_block, s.head_timestamp, s.lag_blocks, s.lag_seconds,
           coalesce(s.job_id, m.job_id), s.job_status, s.progress, s.row_count, s.last_updated
    FROM monitor_models m LEFT JOIN model_state s ON s.model_id = m.model_id
"""


def _status(row: tuple) -> ModelStatus:
    return ModelStatus(*row[:4], tuple(json.loads(row[4])), bool(row[5]), *row[6:])


def statuses(conn: sqlite3.Connection, include_untracked: bool = False) -> list[ModelStatus]:
    where = "" if include_untracked else " WHERE m.tracked = 1"
    rows = conn.execute(f"{_STATUS_SELECT}{where} ORDER BY m.name, m.model_id").fetchall()
    return [_status(row) for row in rows]


def status_of(conn: sqlite3.Connection, name: str) -> ModelStatus | None:
    """One model's status by name or unique id (indexed lookups)."""
    row = conn.execute(
        f"{_STATUS_SELECT} WHERE m.name = ? OR m.model_id = ? ORDER BY m.model_id LIMIT 1",
        (name, name),
    ).fetchone()
    return _status(row) if row else None


def job_history(
    conn: sqlite3.Connection, model: str | None = None, limit: int | None = None
) -> list[JobRecord]:
    """Jobs, newest first; of one model (name or unique id) when given."""
    sql = f"SELECT {', '.join(_JOB_COLUMNS)} FROM job_history"
    args: list[Any] = []
    if model:
        sql += " WHERE model_name = ? OR model_id = ?"
        args += [model, model]
    sql += " ORDER BY job_id DESC"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return [JobRecord(*row) for row in conn.execute(sql, args).fetchall()]


def job_events(conn: sqlite3.Connection, job_id: int) -> list[EventRecord]:
    rows = conn.execute(
        "SELECT job_id, event_id, event_type, created_at, node_id, detail FROM job_events "
        "WHERE job_id = ? ORDER BY event_id",
        (job_id,),
    ).fetchall()
    return [EventRecord(*row[:5], None if row[5] is None else json.loads(row[5])) for row in rows]


def job_models(conn: sqlite3.Connection) -> dict[int, str]:
    """{job id: model name} of every job the monitor knows."""
    rows = conn.execute(
        "SELECT job_id, model_name FROM job_history WHERE model_name IS NOT NULL"
    ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class PollOutcome:
    finished_at: str
    admin: str
    flight: str
    message: str

    @property
    def reached_amp(self) -> bool:
        return "unreachable" not in (self.admin, self.flight)


def last_poll(conn: sqlite3.Connection, reached_amp: bool = False) -> PollOutcome | None:
    """The newest poll (that reached Amp, when asked)."""
    where = " WHERE admin != 'unreachable' AND flight != 'unreachable'" if reached_amp else ""
    row = conn.execute(
        f"SELECT finished_at, admin, flight, message FROM monitor_polls{where} "
        "ORDER BY poll_id DESC LIMIT 1"
    ).fetchone()
    return PollOutcome(*row) if row else None


def dataset_models(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """{(namespace, dataset name): model name} of the project's dataset models."""
    rows = conn.execute(
        "SELECT dataset_namespace, dataset_name, name FROM monitor_models "
        "WHERE dataset_name IS NOT NULL ORDER BY model_id"
    ).fetchall()
    return {(ns, name): model for ns, name, model in rows}
