"""`.amp-dbt/state.db`: dbt-amp's local state, one SQLite file in the dbt project directory.

This module is its only owner: the path, how connections are opened, the schema and its numbered
migrations, and the typed reads and writes of the adapter's table. The adapter keeps block-range
progress of incremental `query` models here. The monitor's tables are migration 2 (`MONITOR_SCHEMA`);
amp_dbt_monitor/store.py reads and writes them through `connect` and `write_transaction`.

Concurrency (dbt `--threads`, two dbt processes, a monitor polling beside them):
- WAL journal: readers never block the writer, and the writer never blocks readers.
- A busy timeout: a writer waits for another writer instead of failing with "database is locked".
- Every write is `BEGIN IMMEDIATE` (`write_transaction`): the write lock is taken up front, so two
  transactions can never both hold a read snapshot and deadlock upgrading it (SQLite would return
  SQLITE_BUSY at once there, without waiting).
- One short-lived connection per operation (`open_state`): no connection crosses threads.

No credential is ever written here: rows name profiles, targets and models, never tokens or headers.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dbt_common.exceptions import DbtRuntimeError

STATE_DIR = ".amp-dbt"
STATE_FILE = "state.db"
BUSY_TIMEOUT_SECONDS = 60.0


class StateError(DbtRuntimeError):
    """state.db cannot be opened or migrated; the message names the file and the fix."""


@dataclass(frozen=True)
class Migration:
    """One schema step. `statements` run in order inside the transaction that records `version`
    in `schema_version`, so a migration is applied completely or not at all, exactly once."""

    version: int
    name: str
    statements: tuple[str, ...]


def _model_state_table(name: str, statuses: tuple[str, ...]) -> str:
    """`model_state`, whose `status` is one of `statuses` (the monitor's judgements)."""
    allowed = ", ".join(f"'{s}'" for s in statuses)
    return f"""
    CREATE TABLE {name} (
        model_id TEXT PRIMARY KEY REFERENCES monitor_models (model_id) ON DELETE CASCADE,
        model_name TEXT NOT NULL,
        dataset_reference TEXT,
        network TEXT,
        latest_block INTEGER,
        latest_block_timestamp INTEGER,
        max_value INTEGER,
        row_count INTEGER,
        start_block INTEGER,
        head_block INTEGER,
        head_timestamp INTEGER,
        lag_blocks INTEGER,
        lag_seconds INTEGER,
        job_id INTEGER,
        job_status TEXT,
        progress REAL,
        status TEXT NOT NULL CHECK (status IN ({allowed})),
        reason TEXT NOT NULL DEFAULT '',
        last_updated TEXT NOT NULL
    ) WITHOUT ROWID
    """


# The monitor's tables (amp_dbt_monitor/store.py reads and writes them). Freshness is measured in
# Amp's block numbers and block timestamps (Unix seconds); the `*_at` TEXT columns are wall-clock
# times of the monitor's own writes, for display only.
MONITOR_SCHEMA: tuple[str, ...] = (
    # Which dbt artifact was ingested last (one row per kind), to skip unchanged files.
    """
    CREATE TABLE monitor_artifacts (
        kind TEXT PRIMARY KEY CHECK (kind IN ('manifest', 'run_results')),
        path TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        invocation_id TEXT,
        generated_at TEXT,
        dbt_version TEXT,
        ingested_at TEXT NOT NULL
    )
    """,
    # The models of the last ingested manifest, with what the monitor needs of their configs and
    # of their last dbt run. `tracked`: dataset models and `track_progress` models.
    """
    CREATE TABLE monitor_models (
        model_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        materialized TEXT NOT NULL,
        path TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        tracked INTEGER NOT NULL,
        track_column TEXT NOT NULL,
        alert_threshold_minutes REAL NOT NULL,
        dataset_namespace TEXT,
        dataset_name TEXT,
        dataset_revision TEXT,
        dataset_table TEXT,
        end_block TEXT,
        probe_sql TEXT,
        upstream TEXT NOT NULL DEFAULT '[]',
        manifest_hash TEXT,
        job_id INTEGER,
        run_status TEXT,
        run_message TEXT,
        run_at TEXT
    ) WITHOUT ROWID
    """,
    "CREATE INDEX monitor_models_name ON monitor_models (name)",
    # What the last poll found per model (the original design's `model_state`).
    _model_state_table("model_state", ("fresh", "stale", "error", "unknown")),
    # Every Amp job of the project's datasets the monitor has seen; outlives the models.
    """
    CREATE TABLE job_history (
        job_id INTEGER PRIMARY KEY,
        model_id TEXT,
        model_name TEXT,
        dataset TEXT,
        status TEXT NOT NULL,
        end_block TEXT,
        created_at TEXT,
        started_at TEXT,
        completed_at TEXT,
        updated_at TEXT,
        final_block INTEGER,
        rows_processed INTEGER,
        files_count INTEGER,
        total_size_bytes INTEGER,
        error TEXT
    )
    """,
    "CREATE INDEX job_history_model ON job_history (model_name, job_id)",
    # Amp's append-only job lifecycle events (`GET /jobs/{id}/events`), with their detail.
    """
    CREATE TABLE job_events (
        job_id INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        created_at TEXT NOT NULL,
        node_id TEXT,
        detail TEXT,
        PRIMARY KEY (job_id, event_id)
    ) WITHOUT ROWID
    """,
    # Chain-head samples: the synced end of the chain tables the models read, per network.
    """
    CREATE TABLE chain_heads (
        sample_id INTEGER PRIMARY KEY,
        network TEXT NOT NULL,
        block INTEGER NOT NULL,
        block_timestamp INTEGER,
        source TEXT NOT NULL,
        observed_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX chain_heads_network ON chain_heads (network, sample_id)",
    # One row per poll: whether Amp answered, so readers can say how old the state is.
    """
    CREATE TABLE monitor_polls (
        poll_id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        admin TEXT NOT NULL,
        flight TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT ''
    )
    """,
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "block_range_progress",
        (
            # The last block each incremental (`incremental_strategy='block_range'`) query model
            # has processed, per dbt profile/target and per network: the end of the block ranges
            # Amp reported (Flight app_metadata) for its last successful run.
            """
            CREATE TABLE block_range_progress (
                profile TEXT NOT NULL,
                target TEXT NOT NULL,
                model_id TEXT NOT NULL,
                network TEXT NOT NULL,
                first_block INTEGER NOT NULL,
                last_block INTEGER NOT NULL,
                last_block_hash TEXT,
                last_block_timestamp INTEGER,
                updated_at TEXT NOT NULL,
                invocation_id TEXT,
                PRIMARY KEY (profile, target, model_id, network),
                CHECK (last_block >= first_block)
            ) WITHOUT ROWID
            """,
        ),
    ),
    Migration(2, "monitor", MONITOR_SCHEMA),
    # `complete` (a bounded job done at its end block) and `not deployed` (registered only).
    Migration(
        3,
        "monitor_statuses",
        (
            _model_state_table(
                "model_state_v3",
                ("fresh", "stale", "error", "unknown", "complete", "not deployed"),
            ),
            "INSERT INTO model_state_v3 SELECT * FROM model_state",
            "DROP TABLE model_state",
            "ALTER TABLE model_state_v3 RENAME TO model_state",
        ),
    ),
)


def state_path(project_dir: str | Path) -> Path:
    """Where the state of the dbt project in `project_dir` lives."""
    return Path(project_dir) / STATE_DIR / STATE_FILE


def utc_now() -> str:
    """The wall-clock time stamp stored in `updated_at` columns (UTC, ISO-8601, seconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# --- connections ---------------------------------------------------------------------------------


def connect(
    path: str | Path,
    migrations: Sequence[Migration] = MIGRATIONS,
    busy_timeout: float = BUSY_TIMEOUT_SECONDS,
) -> sqlite3.Connection:
    """An autocommit connection to the state DB at `path` (created if missing), in WAL mode and
    migrated to the latest schema."""
    path = Path(path)
    try:
        _prepare_dir(path.parent)
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(
            f"Cannot open dbt-amp's state database {path}: {exc}. Check that the directory is "
            "writable (it lives in the dbt project directory)."
        ) from exc
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        _use_wal(conn, path, busy_timeout)
        migrate(conn, migrations, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StateError(
            f"{path} is not a usable dbt-amp state database ({exc}). It holds only local "
            "state (the last block of incremental query models, the monitor's history): move it "
            "away or delete it, then re-run (incremental models then start with a full read)."
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def open_state(
    project_dir: str | Path, migrations: Sequence[Migration] = MIGRATIONS
) -> Iterator[sqlite3.Connection]:
    """A connection to the project's state DB for one operation, closed afterwards."""
    conn = connect(state_path(project_dir), migrations)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT` (or `ROLLBACK` on any exception, Ctrl-C included)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _prepare_dir(directory: Path) -> None:
    """Create `.amp-dbt/` with a `.gitignore` of `*`: local state is not for version control."""
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        try:
            ignore.write_text("# dbt-amp's local state (created automatically)\n*\n")
        except OSError:
            pass  # a read-only checkout still works without it


def _use_wal(conn: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Switch to WAL once per file (the mode is persistent). Changing the journal mode needs an
    exclusive lock and does not wait on the busy handler, so a connection racing another process
    that is creating the same file retries until the busy timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() != "wal":
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    if mode.lower() != "wal":
        raise StateError(
            f"SQLite refused WAL mode for {path} (journal mode is {mode!r}); the file system may "
            "not support it (e.g. a network share). Put the dbt project on a local disk."
        )


# --- migrations ----------------------------------------------------------------------------------


def schema_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied to `conn`'s DB (0 for an empty DB)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Migrations are numbered 1, 2, 3, … in order (a gap or a duplicate is a programming error)."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"state.db migrations must be numbered 1..N in order, got {versions}")


def migrate(
    conn: sqlite3.Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    path: Path | None = None,
) -> int:
    """Apply the migrations `conn`'s DB has not seen yet, each in its own transaction; returns the
    schema version. Safe when several processes migrate the same file at once: the version is
    re-read under the write lock, so each migration runs exactly once."""
    check_migrations(migrations)
    latest = migrations[-1].version if migrations else 0
    current = schema_version(conn)
    if current > latest:
        where = path or "state.db"
        raise StateError(
            f"{where} has schema version {current}, newer than this dbt-amp understands "
            f"({latest}): a newer dbt-amp wrote it. Upgrade dbt-amp (pip install -U dbt-amp), "
            "or point this project at a fresh state database by moving the file away."
        )
    for migration in migrations:
        if migration.version <= current:
            continue
        with write_transaction(conn):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            if schema_version(conn) >= migration.version:
                continue  # another connection applied it while we waited for the lock
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, utc_now()),
            )
    return schema_version(conn)


# --- block_range_progress ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelKey:
    """Whose progress: one model (dbt unique_id) under one dbt profile and target."""

    profile: str
    target: str
    model_id: str


@dataclass(frozen=True)
class BlockProgress:
    """How far one model has processed one network."""

    network: str
    first_block: int  # start of the range its first (full) run read
    last_block: int  # end of the block range Amp reported for its last successful run
    last_block_hash: str | None = None
    last_block_timestamp: int | None = None  # Unix seconds of last_block, as Amp reported it
    updated_at: str = ""
    invocation_id: str | None = None


_PROGRESS_COLUMNS = (
    "network, first_block, last_block, last_block_hash, last_block_timestamp, updated_at, "
    "invocation_id"
)


def read_block_progress(conn: sqlite3.Connection, key: ModelKey) -> dict[str, BlockProgress]:
    """{network: progress} of one model ({} if it never completed an incremental run)."""
    rows = conn.execute(
        f"SELECT {_PROGRESS_COLUMNS} FROM block_range_progress "
        "WHERE profile = ? AND target = ? AND model_id = ? ORDER BY network",
        (key.profile, key.target, key.model_id),
    ).fetchall()
    return {row[0]: BlockProgress(*row) for row in rows}


def replace_block_progress(
    conn: sqlite3.Connection, key: ModelKey, progress: Sequence[BlockProgress]
) -> None:
    """Make `progress` the model's whole state (networks not in it are dropped). Call inside
    `write_transaction` together with the read that checked the previous state."""
    delete_block_progress(conn, key)
    conn.executemany(
        f"INSERT INTO block_range_progress (profile, target, model_id, {_PROGRESS_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                key.profile,
                key.target,
                key.model_id,
                p.network,
                p.first_block,
                p.last_block,
                p.last_block_hash,
                p.last_block_timestamp,
                p.updated_at or utc_now(),
                p.invocation_id,
            )
            for p in progress
        ],
    )


def delete_block_progress(conn: sqlite3.Connection, key: ModelKey) -> int:
    """Forget a model's progress (`--full-refresh`); returns the number of rows removed."""
    cursor = conn.execute(
        "DELETE FROM block_range_progress WHERE profile = ? AND target = ? AND model_id = ?",
        (key.profile, key.target, key.model_id),
    )
    return cursor.rowcount
