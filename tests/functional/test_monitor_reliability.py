"""The monitor under trouble: two monitors polling one state.db at once never fail with "database
is locked"; when Amp's Admin API or the whole server is down, the last known state is shown with a
warning and exit code 4 (a closed port and a stopped server: real refused connections)."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from amp_local.launcher import start_amp_local
from tests.functional.monitor_project import dbt, monitor, write_project

RPC = "_/eth_rpc@1.0.0"
MODELS = {
    "transfers": (
        "{{ config(materialized='dataset', deploy=true, wait=true, end_block='latest') }}\n"
        f'select block_num, log_index, address from "{RPC}".logs'
    ),
    "decoded": (
        "{{ config(materialized='query', track_progress=true) }}\n"
        f'select block_num, tx_hash from "{RPC}".logs'
    ),
}
MONITOR = str(Path(sys.executable).parent / "amp-dbt-monitor")


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def project(amp_server, tmp_path_factory):
    assert amp_server.admin_url, "the session's amp_local has no Admin API"
    down = {"admin_url": f"http://127.0.0.1:{closed_port()}"}
    all_down = {**down, "query_url": f"grpc://127.0.0.1:{closed_port()}"}
    root = write_project(
        tmp_path_factory.mktemp("monitor_reliability"),
        amp_server,
        MODELS,
        targets={"admin_down": down, "all_down": all_down},
    )
    dbt(root, "build")
    return root


def test_two_monitors_polling_at_once_never_lock(project):
    common = ["--project-dir", str(project), "--profiles-dir", str(project)]
    watchers = [
        subprocess.Popen(
            [MONITOR, "watch", "--iterations", "25", "--interval", "0", "--json", *common],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # and a third writer: re-ingesting the artifacts over and over meanwhile
    ingests = [
        subprocess.run([MONITOR, "ingest", "--force", *common], capture_output=True, text=True)
        for _ in range(5)
    ]
    outcomes = [(w.wait(timeout=300), *w.communicate()) for w in watchers]
    for code, out, err in outcomes:
        assert code == 0 and "locked" not in err, err
        frames = [json.loads(line) for line in out.splitlines()]
        assert len(frames) == 25
        assert all({r["name"] for r in f} == {"transfers", "decoded"} for f in frames)
        statuses = {(r["name"], r["status"]) for f in frames for r in f}
        assert statuses == {("transfers", "complete"), ("decoded", "fresh")}
    assert all(i.returncode == 0 and "locked" not in i.stderr for i in ingests)
    conn = sqlite3.connect(project / ".amp-dbt" / "state.db")
    polls = conn.execute("SELECT count(*) FROM monitor_polls WHERE admin = 'ok'").fetchone()[0]
    assert polls >= 50


def test_admin_api_down_shows_the_last_known_state(project):
    before = monitor(project, "status", "--json")
    assert before.exit_code == 0, before.output
    table_before = monitor(project, "status", "--no-poll").stdout.splitlines()[:-1]

    down = monitor(project, "status", "--target", "admin_down")
    assert down.exit_code == 4
    warnings = down.stderr.splitlines()
    assert warnings[0].startswith(
        "warning: Amp's Admin API did not answer: UNREACHABLE: could not reach Amp's Admin API "
        "at http://127.0.0.1:"
    )
    assert warnings[1].startswith("warning: showing the last known state of 20")
    lines = down.stdout.splitlines()
    assert lines[:-1] == table_before  # the same rows as before Amp went away
    assert lines[-1].startswith("Amp unreachable at ") and "last successful poll" in lines[-1]

    as_json = monitor(project, "status", "--target", "admin_down", "--json")
    assert as_json.exit_code == 4
    rows_before, rows_down = json.loads(before.stdout), json.loads(as_json.stdout)
    assert all(r["poll_error"] is None and r["last_successful_poll"] for r in rows_before)
    good = rows_before[0]["last_successful_poll"]
    # the same rows as before, each saying its state is old and why
    for row in rows_down:
        assert row.pop("poll_error").startswith("Amp's Admin API did not answer: UNREACHABLE")
        assert row.pop("last_successful_poll") == good
    assert rows_down == [
        {k: v for k, v in r.items() if k not in ("poll_error", "last_successful_poll")}
        for r in rows_before
    ]
    assert monitor(project, "alerts", "--target", "admin_down").exit_code == 4

    jobs = monitor(project, "jobs", "list", "--target", "admin_down", "--json")
    assert jobs.exit_code == 4 and "showing the jobs recorded in state.db" in jobs.stderr
    assert [j["model"] for j in json.loads(jobs.stdout)] == ["transfers"]
    stop = monitor(project, "jobs", "stop", "1", "--target", "admin_down")
    assert stop.exit_code == 4 and "job 1 was not stopped" in stop.stderr


def test_json_of_a_server_never_reached_says_unknown_and_why(project, tmp_path):
    """A copy of the project polled only against closed ports: no state is `fresh`, every JSON
    row carries the poll's error and no last successful poll."""
    root = tmp_path / "copy"
    shutil.copytree(project, root, ignore=shutil.ignore_patterns(".amp-dbt"))
    watched = monitor(root, "watch", "--iterations", "2", "--interval", "0", "--json",
                      "--target", "all_down")  # fmt: skip
    assert watched.exit_code == 4
    frames = [json.loads(line) for line in watched.stdout.splitlines()]
    assert len(frames) == 2
    for frame in frames:
        assert {r["name"] for r in frame} == {"transfers", "decoded"}
        for row in frame:
            assert row["status"] == "unknown" and row["last_successful_poll"] is None
            assert "Admin API" in row["poll_error"] and "Flight" in row["poll_error"]
    status = monitor(root, "status", "--json", "--target", "all_down")
    assert status.exit_code == 4
    assert {r["status"] for r in json.loads(status.stdout)} == {"unknown"}


def test_whole_server_down(tmp_path):
    """Flight gone too: a Flight-only project (no admin_url) on a server that then stops."""
    server = start_amp_local(tmp_path / "amp", blocks=200)
    try:
        root = write_project(
            tmp_path / "project", server, {"decoded": MODELS["decoded"]}, admin_url=None
        )
        dbt(root, "build")
        first = monitor(root, "status")
        assert first.exit_code == 0, first.output
        assert first.stdout.splitlines()[1].split()[:3] == ["decoded", "fresh", "199"]
    finally:
        server.stop()
    gone = monitor(root, "status")
    assert gone.exit_code == 4
    assert gone.stderr.startswith(
        f"warning: Could not reach Amp at {server.flight_url} (UNAVAILABLE)"
    )
    assert gone.stdout.splitlines()[1].split()[:3] == ["decoded", "fresh", "199"]
    watched = monitor(root, "watch", "--iterations", "2", "--interval", "0")
    assert watched.exit_code == 4
    assert watched.stdout.count("warning: Could not reach Amp") == 2


def test_the_token_is_sent_and_never_stored(amp_server_with_token, tmp_path):
    """A server that enforces a bearer token: the monitor sends the profile's token (its polls
    succeed), never writes it to state.db, and a wrong token is one clear error."""
    server = amp_server_with_token
    head = (
        "{{ config(materialized='query', track_progress=true) }}\n"
        'select block_num from "_/eth_rpc@0.0.0".blocks'
    )
    root = write_project(
        tmp_path,
        server,
        {"head": head},
        targets={"wrong": {"token": "not-the-token"}},
        token=server.token,
    )
    dbt(root, "build")
    polled = monitor(root, "status", "--json")
    assert polled.exit_code == 0, polled.output
    [row] = json.loads(polled.stdout)
    assert (row["status"], row["latest_block"]) == ("fresh", 15_000_000)  # the snapshot block
    files = list((root / ".amp-dbt").iterdir())
    assert any(f.name == "state.db" for f in files)
    for path in files:
        assert server.token.encode() not in path.read_bytes(), path

    refused = monitor(root, "status", "--target", "wrong")
    assert refused.exit_code == 1
    assert "refused the credentials" in refused.stderr
    assert "The token sent came from the profile's `token`" in refused.stderr
    assert "not-the-token" not in refused.output
