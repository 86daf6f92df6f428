"""`.amp-dbt/state.db` (dbt/adapters/amp/state.py): WAL, migrations from empty/older/newer/corrupt
files, and concurrent writers in threads and in separate processes without "database is locked"."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from dbt.adapters.amp import state
from dbt.adapters.amp.state import (
    MIGRATIONS,
    BlockProgress,
    Migration,
    ModelKey,
    StateError,
    check_migrations,
    connect,
    migrate,
    open_state,
    read_block_progress,
    replace_block_progress,
    schema_version,
    write_transaction,
)

KEY = ModelKey("amp_project", "dev", "model.amp_project.transfers")
# a later schema step, as a later dbt-amp may add one
MONITOR_LIKE = Migration(
    len(MIGRATIONS) + 1,
    "future_table",
    (
        "CREATE TABLE future_table (job_id INTEGER PRIMARY KEY, model_id TEXT NOT NULL)",
        "CREATE INDEX future_table_model ON future_table (model_id)",
    ),
)


def tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def test_new_state_db_is_wal_migrated_and_git_ignored(tmp_path):
    with open_state(tmp_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert schema_version(conn) == MIGRATIONS[-1].version
        assert {"schema_version", "block_range_progress"} <= tables(conn)
        applied = conn.execute("SELECT version, name FROM schema_version").fetchall()
        assert applied == [(m.version, m.name) for m in MIGRATIONS]
    path = tmp_path / ".amp-dbt" / "state.db"
    assert path.is_file()
    assert (tmp_path / ".amp-dbt" / ".gitignore").read_text().splitlines()[-1] == "*"
    # WAL is a property of the file: a plain sqlite3 connection sees it too
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_empty_file_is_migrated(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    conn = connect(path)
    assert schema_version(conn) == MIGRATIONS[-1].version
    conn.close()


def test_older_schema_migrates_and_keeps_its_rows(tmp_path):
    path = tmp_path / "state.db"
    old = connect(path, MIGRATIONS)  # what today's dbt-amp writes
    progress = BlockProgress("mainnet", 0, 120, "0xab", 1_700_000_000, invocation_id="inv-1")
    with write_transaction(old):
        replace_block_progress(old, KEY, [progress])
    old.close()

    new = connect(path, (*MIGRATIONS, MONITOR_LIKE))  # a later dbt-amp with one more step
    assert schema_version(new) == MONITOR_LIKE.version
    assert "future_table" in tables(new)
    assert read_block_progress(new, KEY)["mainnet"].last_block == 120
    assert new.execute("SELECT count(*) FROM schema_version").fetchone()[0] == MONITOR_LIKE.version
    # running the migrations again changes nothing
    assert migrate(new, (*MIGRATIONS, MONITOR_LIKE)) == MONITOR_LIKE.version
    assert new.execute("SELECT count(*) FROM schema_version").fetchone()[0] == MONITOR_LIKE.version
    new.close()


def test_failed_migration_leaves_the_previous_version(tmp_path):
    path = tmp_path / "state.db"
    connect(path).close()
    broken = Migration(MONITOR_LIKE.version, "broken", ("CREATE TABLE t (x)", "NOT SQL"))
    with pytest.raises(StateError, match="not a usable dbt-amp state database"):
        connect(path, (*MIGRATIONS, broken))
    conn = connect(path)
    assert schema_version(conn) == MIGRATIONS[-1].version
    assert "t" not in tables(conn)  # the half-applied step was rolled back
    conn.close()


def test_newer_schema_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "state.db"
    connect(path, (*MIGRATIONS, MONITOR_LIKE)).close()
    with pytest.raises(StateError) as excinfo:
        connect(path, MIGRATIONS)
    message = str(excinfo.value)
    assert f"schema version {MONITOR_LIKE.version}" in message
    assert "newer than this dbt-amp understands" in message and "pip install -U" in message


def test_corrupt_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite at all, just text" * 200)
    with pytest.raises(StateError) as excinfo:
        connect(path)
    assert str(path) in str(excinfo.value) and "delete it" in str(excinfo.value)


def test_unwritable_directory_is_refused_with_the_fix(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where .amp-dbt's parent should be")
    with pytest.raises(StateError, match="Check that the directory is writable"):
        connect(blocker / ".amp-dbt" / "state.db")


def test_migrations_must_be_numbered_in_order():
    check_migrations(MIGRATIONS)
    with pytest.raises(ValueError, match="numbered 1..N"):
        check_migrations((MIGRATIONS[0], Migration(3, "gap", ())))
    with pytest.raises(ValueError, match="numbered 1..N"):
        check_migrations((MIGRATIONS[0], MIGRATIONS[0]))


def test_write_transaction_rolls_back_on_error(tmp_path):
    conn = connect(tmp_path / "state.db")
    with pytest.raises(RuntimeError):
        with write_transaction(conn):
            replace_block_progress(conn, KEY, [BlockProgress("mainnet", 0, 5)])
            raise RuntimeError("boom")
    assert read_block_progress(conn, KEY) == {}
    conn.close()


def test_progress_is_per_profile_target_and_model(tmp_path):
    conn = connect(tmp_path / "state.db")
    other_target = ModelKey(KEY.profile, "prod", KEY.model_id)
    other_model = ModelKey(KEY.profile, KEY.target, "model.amp_project.swaps")
    with write_transaction(conn):
        replace_block_progress(conn, KEY, [BlockProgress("mainnet", 0, 10)])
        replace_block_progress(conn, other_target, [BlockProgress("mainnet", 0, 20)])
        replace_block_progress(
            conn, other_model, [BlockProgress("mainnet", 5, 30), BlockProgress("base", 7, 40)]
        )
    assert read_block_progress(conn, KEY)["mainnet"].last_block == 10
    assert read_block_progress(conn, other_target)["mainnet"].last_block == 20
    assert {n: p.last_block for n, p in read_block_progress(conn, other_model).items()} == {
        "base": 40,
        "mainnet": 30,
    }
    with write_transaction(conn):
        assert state.delete_block_progress(conn, other_model) == 2
    assert read_block_progress(conn, other_model) == {}
    assert read_block_progress(conn, KEY)["mainnet"].last_block == 10
    with pytest.raises(sqlite3.IntegrityError):  # the schema refuses an inverted range
        with write_transaction(conn):
            replace_block_progress(conn, KEY, [BlockProgress("mainnet", 10, 9)])
    conn.close()


def bump(conn: sqlite3.Connection, key: ModelKey) -> None:
    """A read-modify-write of one model's progress: the pattern that deadlocks without
    BEGIN IMMEDIATE (two readers both trying to upgrade to the write lock)."""
    with write_transaction(conn):
        current = read_block_progress(conn, key).get("mainnet")
        last = current.last_block + 1 if current else 0
        replace_block_progress(conn, key, [BlockProgress("mainnet", 0, last)])


def test_threads_share_one_file(tmp_path):
    rounds, workers, errors = 40, 8, []

    def work(i: int) -> None:
        try:
            for _ in range(rounds):
                with open_state(tmp_path) as conn:  # one short-lived connection per operation
                    bump(conn, KEY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_state(tmp_path) as conn:
        assert read_block_progress(conn, KEY)["mainnet"].last_block == rounds * workers - 1


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dbt.adapters.amp.state import ModelKey, open_state
    from tests.unit.test_state import bump

    project, go, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    while not go.exists():  # start together: every process creates/migrates the same new file
        time.sleep(0.005)
    key = ModelKey("amp_project", "dev", "model.amp_project.transfers")
    for _ in range(rounds):
        with open_state(project) as conn:
            bump(conn, key)
    print("done")
    """
)


def test_processes_create_migrate_and_write_one_file_at_once(tmp_path):
    """Four processes race on a state.db that does not exist yet: creating it, switching it to
    WAL, migrating it and then doing read-modify-write transactions. None may fail."""
    processes, rounds = 4, 40
    go = tmp_path / "go"
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), str(go), str(rounds)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    go.write_text("go")
    outputs = [p.communicate(timeout=300) for p in procs]
    failures = [err for p, (_, err) in zip(procs, outputs, strict=True) if p.returncode != 0]
    assert failures == [], failures
    assert all(out.strip() == "done" for out, _ in outputs)
    with open_state(tmp_path) as conn:
        assert read_block_progress(conn, KEY)["mainnet"].last_block == processes * rounds - 1
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


def test_monitor_statuses_migration_keeps_model_state_and_allows_the_new_statuses(tmp_path):
    """A state.db of migration 2 (model_state allowed only fresh/stale/error/unknown)."""
    path = tmp_path / "state.db"
    old = connect(path, MIGRATIONS[:2])
    with write_transaction(old):
        old.execute(
            "INSERT INTO monitor_models (model_id, name, materialized, path, tracked, "
            "track_column, alert_threshold_minutes) VALUES ('model.p.a', 'a', 'dataset', "
            "'a.sql', 1, '_block_num', 30)"
        )
        old.execute(
            "INSERT INTO model_state (model_id, model_name, status, latest_block, last_updated) "
            "VALUES ('model.p.a', 'a', 'stale', 1000, '2026-03-01T12:00:00+00:00')"
        )
    old.close()
    conn = connect(path)
    assert schema_version(conn) == MIGRATIONS[-1].version >= 3
    row = conn.execute("SELECT status, latest_block FROM model_state").fetchone()
    assert row == ("stale", 1000)
    for status in ("complete", "not deployed"):
        with write_transaction(conn):
            conn.execute("UPDATE model_state SET status = ?", (status,))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE model_state SET status = 'bogus'")
    with write_transaction(conn):  # the foreign key still cascades
        conn.execute("DELETE FROM monitor_models")
    assert conn.execute("SELECT count(*) FROM model_state").fetchone()[0] == 0
    conn.close()
