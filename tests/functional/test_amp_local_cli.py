"""`amp-local serve` as a user runs it: READY line, loopback, clean shutdown, reuse, bad arguments."""

from __future__ import annotations

import signal
import subprocess
import sys

import adbc_driver_flightsql.dbapi as flightsql
import pytest

from amp_local.cli import PORT_OPTIONS, connect_host
from amp_local.launcher import start_amp_local


def run_serve(data_dir, *args: str) -> subprocess.CompletedProcess:
    """`amp-local serve` expected to fail at start-up: its exit code and stderr.

    Every listener gets a free port (later `args` win), so Amp's defaults being taken on this
    machine cannot change which error comes first.
    """
    free = [arg for option in PORT_OPTIONS for arg in (option, "0")]
    return subprocess.run(
        [sys.executable, "-m", "amp_local", "serve", "--data-dir", str(data_dir), *free, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ready_line_signal_shutdown_and_reuse(tmp_path):
    server = start_amp_local(tmp_path, blocks=300, snapshots=False)
    ready = server.ready
    assert ready["host"] == "127.0.0.1" and ready["flight_url"].startswith("grpc://127.0.0.1:")
    assert sorted(ready["datasets"]) == ["_/eth_firehose@1.0.0", "_/eth_rpc@1.0.0"]
    with flightsql.connect(server.flight_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute('SELECT max(block_num) AS head FROM "_/eth_rpc@1.0.0".blocks')
        assert cur.fetchall() == [(299,)]
    files = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=15) == 0

    again = start_amp_local(tmp_path, blocks=300, snapshots=False)
    try:
        assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")} == files
    finally:
        assert again.stop() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nonsense"], "expected NS/NAME@VERSION=DIR"),
        (["--dataset", "_/Bad@1.0.0=/tmp"], "invalid dataset name"),
        (["--dataset", "_/x@latest=/tmp"], "give a semver version"),
        (["--dataset", "_/x@1.0.0=/nonexistent"], "has no manifest.json"),
        (["--blocks", "-1"], "--blocks must be >= 0"),
        (["--blocks", "0", "--follow", "1"], "--follow needs"),
        (["--blocks", "0", "--dataset", "_/x@1.0.0=BAD_DIR"], "is not valid JSON"),
        (["--dataset", "_/eth_rpc@1.0.0=BAD_DIR"], "synthetic chain's tag"),
    ],
)
def test_bad_arguments_fail_with_one_clear_line(tmp_path, args, message):
    bad = tmp_path / "bad_dataset"
    bad.mkdir()
    (bad / "manifest.json").write_text("{not json")
    args = [a.replace("BAD_DIR", str(bad)) for a in args]
    result = run_serve(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_reported(tmp_path):
    first = start_amp_local(tmp_path / "a", blocks=0, snapshots=False)
    try:
        result = run_serve(
            tmp_path / "b", "--blocks", "0", "--flight-port", str(first.flight_port)
        )
        assert result.returncode == 1
        assert "could not bind" in result.stderr and "Traceback" not in result.stderr
    finally:
        first.stop()


@pytest.mark.parametrize(
    ("host", "url_host"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("::1", "[::1]")],
)
def test_ready_url_is_dialable(host, url_host):
    assert connect_host(host) == url_host
