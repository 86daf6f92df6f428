"""The metadata database behind the Admin API: manifests, dataset links and tags, jobs and job events.

Amp keeps these in PostgreSQL (its "metadb"); `amp_local` keeps them in one SQLite file under
`--data-dir`, so registered datasets, deployed jobs and their history survive a restart. Every method
is one short transaction; a lock serialises writers across the HTTP and worker threads.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset_links (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL REFERENCES manifests(hash),
    created_at TEXT NOT NULL,
    PRIMARY KEY (namespace, name, hash)
);
CREATE TABLE IF NOT EXISTS version_tags (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (namespace, name, version)
);
CREATE TABLE IF NOT EXISTS dev_tags (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    node_id TEXT NOT NULL,
    status TEXT NOT NULL,
    descriptor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    node_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events (job_id, id);
"""


def now() -> str:
    """An RFC 3339 UTC timestamp, as Amp's `to_rfc3339()` writes it."""
    return dt.datetime.now(dt.timezone.utc).isoformat()


@dataclass(frozen=True)
class VersionTag:
    version: str
    hash: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class JobRow:
    id: int
    idempotency_key: str
    node_id: str
    status: str
    descriptor: dict
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class EventRow:
    id: int
    job_id: int
    created_at: str
    node_id: str
    event_type: str
    detail: object | None


def _job(row: sqlite3.Row) -> JobRow:
    return JobRow(
        row["id"],
        row["idempotency_key"],
        row["node_id"],
        row["status"],
        json.loads(row["descriptor"]),
        row["created_at"],
        row["updated_at"],
    )


def _event(row: sqlite3.Row) -> EventRow:
    detail = row["detail"]
    return EventRow(
        row["id"],
        row["job_id"],
        row["created_at"],
        row["node_id"],
        row["event_type"],
        None if detail is None else json.loads(detail),
    )


class MetadataDb:
    """SQLite-backed metadata, thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{path} was written by a newer amp-local (schema {version}); "
                    "upgrade amp-local or use another --data-dir"
                )
            self._conn.executescript(SCHEMA)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _tx(self):
        return _Transaction(self._conn, self._lock)

    # --- manifests --------------------------------------------------------------------------

    def put_manifest(self, digest: str, kind: str, content: str) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO manifests (hash, kind, content, created_at) VALUES (?,?,?,?)",
                (digest, kind, content, now()),
            )

    def manifest(self, digest: str) -> tuple[str, str] | None:
        """(kind, canonical JSON) of a stored manifest."""
        with self._tx() as c:
            row = c.execute(
                "SELECT kind, content FROM manifests WHERE hash = ?", (digest,)
            ).fetchone()
        return None if row is None else (row["kind"], row["content"])

    # --- links and tags ---------------------------------------------------------------------

    def link(self, namespace: str, name: str, digest: str) -> None:
        """Link a stored manifest to namespace/name and point `dev` at it (last write wins)."""
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO dataset_links VALUES (?,?,?,?)",
                (namespace, name, digest, now()),
            )
            c.execute(
                "INSERT INTO dev_tags VALUES (?,?,?) ON CONFLICT (namespace, name) "
                "DO UPDATE SET hash = excluded.hash",
                (namespace, name, digest),
            )

    def is_linked(self, namespace: str, name: str, digest: str) -> bool:
        with self._tx() as c:
            row = c.execute(
                "SELECT 1 FROM dataset_links WHERE namespace=? AND name=? AND hash=?",
                (namespace, name, digest),
            ).fetchone()
        return row is not None

    def set_version(self, namespace: str, name: str, version: str, digest: str) -> None:
        stamp = now()
        with self._tx() as c:
            c.execute(
                "INSERT INTO version_tags VALUES (?,?,?,?,?,?) "
                "ON CONFLICT (namespace, name, version) DO UPDATE SET "
                "hash = excluded.hash, updated_at = CASE WHEN version_tags.hash = excluded.hash "
                "THEN version_tags.updated_at ELSE excluded.updated_at END",
                (namespace, name, version, digest, stamp, stamp),
            )

    def versions(self, namespace: str, name: str) -> list[VersionTag]:
        with self._tx() as c:
            rows = c.execute(
                "SELECT version, hash, created_at, updated_at FROM version_tags "
                "WHERE namespace=? AND name=?",
                (namespace, name),
            ).fetchall()
        return [
            VersionTag(r["version"], r["hash"], r["created_at"], r["updated_at"]) for r in rows
        ]

    def dev(self, namespace: str, name: str) -> str | None:
        with self._tx() as c:
            row = c.execute(
                "SELECT hash FROM dev_tags WHERE namespace=? AND name=?", (namespace, name)
            ).fetchone()
        return None if row is None else row["hash"]

    def delete_version(self, namespace: str, name: str, version: str) -> None:
        with self._tx() as c:
            c.execute(
                "DELETE FROM version_tags WHERE namespace=? AND name=? AND version=?",
                (namespace, name, version),
            )

    def unlink_dataset(self, namespace: str, name: str) -> list[str]:
        """Remove all links and tags of a dataset, and manifests no other dataset links.
        Returns the unlinked hashes."""
        with self._tx() as c:
            hashes = [
                r["hash"]
                for r in c.execute(
                    "SELECT hash FROM dataset_links WHERE namespace=? AND name=?",
                    (namespace, name),
                )
            ]
            for table in ("dataset_links", "version_tags", "dev_tags"):
                c.execute(f"DELETE FROM {table} WHERE namespace=? AND name=?", (namespace, name))
            for digest in hashes:
                c.execute(
                    "DELETE FROM manifests WHERE hash=? AND NOT EXISTS "
                    "(SELECT 1 FROM dataset_links WHERE hash=?)",
                    (digest, digest),
                )
        return hashes

    def links(self) -> list[tuple[str, str, str]]:
        """Every (namespace, name, hash) link, oldest first."""
        with self._tx() as c:
            rows = c.execute(
                "SELECT namespace, name, hash FROM dataset_links ORDER BY created_at, rowid"
            ).fetchall()
        return [(r["namespace"], r["name"], r["hash"]) for r in rows]

    def datasets(self) -> list[tuple[str, str]]:
        """Every linked (namespace, name)."""
        with self._tx() as c:
            rows = c.execute(
                "SELECT DISTINCT namespace, name FROM dataset_links ORDER BY namespace, name"
            ).fetchall()
        return [(r["namespace"], r["name"]) for r in rows]

    # --- jobs -------------------------------------------------------------------------------

    def job_by_key(self, key: str) -> JobRow | None:
        with self._tx() as c:
            row = c.execute("SELECT * FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()
        return None if row is None else _job(row)

    def job(self, job_id: int) -> JobRow | None:
        with self._tx() as c:
            row = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def jobs(
        self,
        limit: int | None = None,
        before: int | None = None,
        statuses: Iterable[str] | None = None,
    ) -> list[JobRow]:
        """Jobs newest first (Amp's pagination: `id < last_job_id ORDER BY id DESC LIMIT n`)."""
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if before is not None:
            sql += " AND id < ?"
            args.append(before)
        if statuses is not None:
            statuses = list(statuses)
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += statuses
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._tx() as c:
            rows = c.execute(sql, args).fetchall()
        return [_job(r) for r in rows]

    def insert_job(self, key: str, node_id: str, status: str, descriptor: dict) -> int:
        stamp = now()
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO jobs (idempotency_key, node_id, status, descriptor, created_at, "
                "updated_at) VALUES (?,?,?,?,?,?)",
                (key, node_id, status, json.dumps(descriptor), stamp, stamp),
            )
            return int(cur.lastrowid)

    def update_job(self, job_id: int, status: str, descriptor: dict | None = None) -> None:
        with self._tx() as c:
            if descriptor is None:
                c.execute(
                    "UPDATE jobs SET status=?, updated_at=? WHERE id=?", (status, now(), job_id)
                )
            else:
                c.execute(
                    "UPDATE jobs SET status=?, descriptor=?, updated_at=? WHERE id=?",
                    (status, json.dumps(descriptor), now(), job_id),
                )

    def delete_job(self, job_id: int) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM jobs WHERE id=?", (job_id,))
            c.execute("DELETE FROM job_events WHERE job_id=?", (job_id,))

    # --- events -----------------------------------------------------------------------------

    def add_event(self, job_id: int, node_id: str, event_type: str, detail: object = None) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO job_events (job_id, created_at, node_id, event_type, detail) "
                "VALUES (?,?,?,?,?)",
                (
                    job_id,
                    now(),
                    node_id,
                    event_type,
                    None if detail is None else json.dumps(detail),
                ),
            )
            return int(cur.lastrowid)

    def events(self, job_id: int) -> list[EventRow]:
        with self._tx() as c:
            rows = c.execute(
                "SELECT * FROM job_events WHERE job_id=? ORDER BY id", (job_id,)
            ).fetchall()
        return [_event(r) for r in rows]

    def event(self, job_id: int, event_id: int) -> EventRow | None:
        with self._tx() as c:
            row = c.execute(
                "SELECT * FROM job_events WHERE job_id=? AND id=?", (job_id, event_id)
            ).fetchone()
        return None if row is None else _event(row)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Transaction:
    """`with db._tx() as conn:` — BEGIN IMMEDIATE … COMMIT under the lock, ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self.conn = conn
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *_) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
