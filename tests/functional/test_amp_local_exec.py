"""`amp-local exec` as the README uses it: the server's URL, token and data reach the command."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

from amp_local.cli import DEFAULT_PORTS, build_parser

# the command exec runs: print what it was given, then query the server it points at
CHILD = textwrap.dedent(
    """
    import os, adbc_driver_flightsql.dbapi as flightsql
    from adbc_driver_flightsql import DatabaseOptions
    token = os.environ.get("AMP_AUTH_TOKEN")
    kwargs = {"db_kwargs": {DatabaseOptions.AUTHORIZATION_HEADER.value: "Bearer " + token}} if token else {}
    with flightsql.connect(os.environ["AMP_QUERY_URL"], autocommit=True, **kwargs) as conn:
        with conn.cursor() as cur:
            cur.execute('SELECT count(*) FROM "_/eth_rpc@0.0.0".logs')
            print("URL", os.environ["AMP_QUERY_URL"], "JSONL", os.environ["AMP_JSONL_URL"])
            print("LOGS", cur.fetchone()[0])
    import httpx
    admin = httpx.get(os.environ["AMP_ADMIN_URL"] + "/datasets/_/eth_rpc/versions/0.0.0",
                      headers={"authorization": "Bearer " + token} if token else {})
    print("ADMIN", os.environ["AMP_ADMIN_URL"], admin.status_code, admin.json()["kind"])
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_exec(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "amp_local", "exec", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_exec_defaults_are_amps_ports():
    # a profile written by `dbt init` (grpc://localhost:1602) meets `amp-local exec` unchanged
    args = build_parser().parse_args(["exec", "--", "true"])
    ports = (args.flight_port, args.jsonl_port, args.admin_port)
    assert ports == (1602, 1603, 1610) == tuple(DEFAULT_PORTS.values())
    assert args.host == "127.0.0.1" and not args.snapshots


def test_exec_serves_snapshots_on_the_ports_given_and_passes_the_token(tmp_path):
    flight, jsonl, admin = free_port(), free_port(), free_port()
    result = run_exec(
        "--data-dir", str(tmp_path), "--blocks", "0", "--snapshots", "--token", "tok-123",
        "--flight-port", str(flight), "--jsonl-port", str(jsonl), "--admin-port", str(admin),
        "--", sys.executable, "-c", CHILD,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"URL grpc://127.0.0.1:{flight} JSONL http://127.0.0.1:{jsonl}" in result.stdout
    assert "LOGS 719" in result.stdout  # Amp's real mainnet block 15,000,000 snapshot
    assert f"ADMIN http://127.0.0.1:{admin} 200 evm-rpc" in result.stdout
    assert "tok-123" not in result.stderr


def test_exec_says_which_port_is_taken_and_what_to_do(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_exec(
            "--data-dir", str(tmp_path), "--blocks", "0", "--flight-port", str(port),
            "--jsonl-port", "0", "--admin-port", "0", "--", "true",
        )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{port} for --flight-port" in lines[0]
    assert "--flight-port 0" in lines[0] and "AMP_QUERY_URL" in lines[0]


def test_exec_passes_the_commands_exit_code(tmp_path):
    result = run_exec(
        "--data-dir", str(tmp_path), "--blocks", "0", "--flight-port", "0", "--jsonl-port", "0",
        "--admin-port", "0", "--", sys.executable, "-c", "raise SystemExit(7)",
    )  # fmt: skip
    assert result.returncode == 7, result.stderr


def test_amp_local_without_the_local_extra_says_what_to_install():
    # the extra's packages are installed here, so hide one the way a missing package looks
    hide = "import sys; sys.modules['datafusion'] = None; from amp_local.cli import main; "
    result = subprocess.run(
        [sys.executable, "-c", hide + "raise SystemExit(main(['serve']))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "amp-local: error: amp-local needs the local server's packages: "
        "pip install 'dbt-amp[local]' (missing: datafusion)"
    )
