"""End to end: `dbt build` deploys a dataset model on an amp_local whose chain head moves
(`--follow`); the monitor reports it fresh; the job is stopped while the head moves on, and
`status`/`alerts` report it stale with the block lag Amp's own data gives; `jobs stop` and
`jobs resume` change the real job on the server."""

from __future__ import annotations

import time

import pyarrow.flight as flight
import pytest

from amp_local.launcher import start_amp_local
from dbt.adapters.amp.admin import AdminClient
from tests.functional.flight_client import chunks
from tests.functional.monitor_project import (
    dbt,
    monitor,
    monitor_json,
    run_results,
    write_project,
)

CHAIN = "_/eth_firehose@1.0.0"
FOLLOW_SECONDS = 0.5  # a new block every half second, stamped with the wall clock
THRESHOLD_MINUTES = 0.05  # 3 s of block time
TRANSFERS = f"""
{{{{ config(materialized='dataset', deploy=true, wait=true,
            alert_threshold_minutes={THRESHOLD_MINUTES}) }}}}
select block_num, log_index, address from "{CHAIN}".logs
"""
WAIT_SECONDS = 90


@pytest.fixture(scope="module")
def following_server(tmp_path_factory):
    server = start_amp_local(
        tmp_path_factory.mktemp("amp_follow"),
        blocks=300,
        extra_args=["--follow", str(FOLLOW_SECONDS)],
    )
    try:
        assert server.admin_url, "this amp_local has no Admin API (amp-local serve --admin-port)"
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def built(following_server, tmp_path_factory):
    """A project whose dataset model dbt has deployed and waited for."""
    root = write_project(
        tmp_path_factory.mktemp("monitor_e2e"), following_server, {"transfers": TRANSFERS}
    )
    dbt(root, "build")
    return root


@pytest.fixture
def admin(following_server):
    with AdminClient(following_server.admin_url) as client:
        yield client


def wait_for(describe: str, check, seconds: float = WAIT_SECONDS):
    """Call `check()` until it returns something truthy (the chain and the job move on their
    own); fail with `describe` and the last value if it never does."""
    deadline = time.monotonic() + seconds
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"gave up waiting for {describe}; last: {value!r}")


def transfers_status(root) -> dict:
    [row] = monitor_json(root, "status", "--select", "transfers")
    return row


def block_timestamps(server, numbers: list[int]) -> dict[int, int]:
    """Unix seconds of the chain's blocks, read from the raw `blocks` table (not the monitor)."""
    client = flight.connect(server.flight_url)
    try:
        sql = (
            f'SELECT block_num, timestamp FROM "{CHAIN}".blocks WHERE block_num IN '
            f"({', '.join(map(str, numbers))})"
        )
        found = {}
        for batch, _ in chunks(client, sql):
            if batch is not None:
                for number, stamp in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    found[number] = int(stamp.timestamp())
        return found
    finally:
        client.close()


def test_fresh_then_stale_while_stopped_then_resumed(built, following_server, admin):
    root, server = built, following_server
    [result] = run_results(root)["results"]
    job_id = result["adapter_response"]["job_id"]
    assert result["adapter_response"]["job_status"] == "RUNNING"

    # deployed and caught up: fresh, at the head, the job the run reported
    fresh = wait_for(
        "a fresh status", lambda: (s := transfers_status(root))["status"] == "fresh" and s
    )
    assert fresh["job_id"] == job_id and fresh["job_status"] == "RUNNING"
    assert fresh["network"] == "mainnet" and fresh["lag_seconds"] <= THRESHOLD_MINUTES * 60
    assert fresh["dataset_reference"] == (
        f"dbt_test/transfers@{result['adapter_response']['manifest_hash']}"
    )

    # stop the job through the monitor: the server's job stops
    stopped = monitor(root, "jobs", "stop", str(job_id))
    assert stopped.exit_code == 0, stopped.output
    assert f"job {job_id} (dbt_test/transfers@" in stopped.stdout
    assert "RUNNING → STOP_REQUESTED" in stopped.stdout
    wait_for("the job to stop", lambda: admin.job(job_id).status == "STOPPED")
    final_block = admin.progress(job_id).tables["transfers"].current_block

    # the head moves on: stale, with the lag Amp's data gives
    stale = wait_for(
        "a stale status", lambda: (s := transfers_status(root))["status"] == "stale" and s
    )
    assert admin.progress(job_id).tables["transfers"].current_block == final_block  # not moving
    assert stale["latest_block"] == final_block
    assert stale["job_status"] == "STOPPED"
    assert stale["lag_blocks"] == stale["head_block"] - final_block > 0
    stamps = block_timestamps(server, [final_block, stale["head_block"]])
    assert stale["latest_block_timestamp"] == stamps[final_block]
    assert stale["head_timestamp"] == stamps[stale["head_block"]]
    assert stale["lag_seconds"] == stamps[stale["head_block"]] - stamps[final_block]
    assert stale["lag_seconds"] > THRESHOLD_MINUTES * 60

    plain = monitor(root, "status", "--no-poll")  # the same state, as a table
    assert plain.exit_code == 0
    [row] = [line.split() for line in plain.stdout.splitlines() if line.startswith("transfers")]
    assert row[:4] == ["transfers", "stale", f"{final_block:,}", f"{stale['lag_blocks']:,}"]

    alerts = monitor(root, "alerts")
    assert alerts.exit_code == 3, alerts.output
    [line] = alerts.stdout.splitlines()
    assert line.startswith(f"STALE transfers: job {job_id} is STOPPED (resume it with ")
    assert "blocks behind the head of mainnet" in line and "exceeds the 3s threshold" in line

    # resume through the monitor: the server reschedules the same job, which catches up
    resumed = monitor(root, "jobs", "resume", "transfers")
    assert resumed.exit_code == 0, resumed.output
    assert f"resumed transfers: job {job_id} of dbt_test/transfers@" in resumed.stdout
    assert admin.job(job_id).status in ("SCHEDULED", "RUNNING")
    wait_for("the resumed job to pass the stop", lambda: (
        (admin.progress(job_id).tables["transfers"].current_block or 0) > final_block
    ))  # fmt: skip
    wait_for("fresh again", lambda: transfers_status(root)["status"] == "fresh")
    assert monitor(root, "alerts").exit_code == 0

    events = [e["event_type"] for e in monitor_json(root, "jobs", "events", str(job_id))]
    assert events[:2] == ["SCHEDULED", "RUNNING"]
    assert {"STOP_REQUESTED", "STOPPED"} <= set(events) and events.count("SCHEDULED") == 2
    assert monitor_json(root, "jobs", "logs", str(job_id)) == monitor_json(
        root, "jobs", "events", str(job_id)
    )
    [job] = monitor_json(root, "history", "transfers")
    assert (job["job_id"], job["model_name"]) == (job_id, "transfers")
    assert job["final_block"] > final_block and job["rows_processed"] > 0
