"""What the Admin API records survives a restart of amp-local, and continuous jobs follow a growing
chain (`--follow`): each test runs its own server on its own data dir."""

from __future__ import annotations

import time

import pyarrow.flight as flight
import pytest

from amp_local.launcher import start_amp_local
from tests.functional.admin_client import (
    AdminClient,
    build_manifest,
    completed,
    deploy,
    register,
    wait_job,
)
from tests.functional.flight_client import chunks

RPC = "_/eth_rpc@1.0.0"
SQL = "SELECT block_num, log_index, address FROM eth.logs WHERE log_index < 2"


def count(server, sql: str) -> int:
    client = flight.connect(server.flight_url)
    try:
        return sum(b.num_rows for b, _ in chunks(client, sql) if b is not None)
    finally:
        client.close()


def snapshot(admin: AdminClient, job_ids: list[int]) -> dict:
    """Everything the Admin API reports about the registered datasets and jobs."""
    return {
        "datasets": admin.get("/datasets").json(),
        "versions": admin.get("/datasets/saved/logs/versions").json(),
        "manifest": admin.get("/datasets/saved/logs/versions/1.0.0/manifest").json(),
        "info": admin.get("/datasets/saved/logs/versions/dev").json(),
        "jobs": [admin.get(f"/jobs/{i}").json() for i in job_ids],
        "events": [admin.get(f"/jobs/{i}/events").json() for i in job_ids],
        "progress": [admin.get(f"/jobs/{i}/progress").json() for i in job_ids],
    }


def test_datasets_jobs_events_and_rows_survive_a_restart(tmp_path):
    server = start_amp_local(tmp_path, blocks=300, snapshots=False)
    try:
        admin = AdminClient(server.admin_url)
        manifest = build_manifest(admin, {"t": SQL}, {"eth": RPC})
        register(admin, "saved", "logs", manifest, version="1.0.0")
        register(admin, "saved", "never_deployed", manifest)
        done = deploy(admin, "saved/logs@1.0.0", "latest")
        completed(admin, done)
        other = build_manifest(admin, {"t": SQL + " AND log_index = 0"}, {"eth": RPC})
        register(admin, "saved", "stopped", other)
        stopped = deploy(admin, "saved/stopped@dev", None)
        wait_job(admin, stopped, {"RUNNING"})
        admin.put(f"/jobs/{stopped}/stop")
        wait_job(admin, stopped, {"STOPPED"})
        before = snapshot(admin, [done, stopped])
        rows = count(server, 'SELECT * FROM "saved/logs@1.0.0".t')
        admin.close()
    finally:
        assert server.stop() == 0

    again = start_amp_local(tmp_path, blocks=300, snapshots=False)
    try:
        admin = AdminClient(again.admin_url)
        assert snapshot(admin, [done, stopped]) == before
        assert rows > 0 and count(again, 'SELECT * FROM "saved/logs@1.0.0".t') == rows
        with pytest.raises(flight.FlightInternalError, match="has not been synced"):
            count(again, 'SELECT * FROM "saved/never_deployed@dev".t')
        assert deploy(admin, "saved/logs@1.0.0", "latest") == done  # the same job, resumed
        completed(admin, done)
        assert count(again, 'SELECT * FROM "saved/logs@1.0.0".t') == rows
        admin.close()
    finally:
        again.stop()


def test_a_running_job_resumes_after_a_restart(tmp_path):
    server = start_amp_local(tmp_path, blocks=200, snapshots=False)
    try:
        admin = AdminClient(server.admin_url)
        register(admin, "saved", "live", build_manifest(admin, {"t": SQL}, {"eth": RPC}))
        job_id = deploy(admin, "saved/live@dev", None)
        wait_job(admin, job_id, {"RUNNING"})
        events = admin.get(f"/jobs/{job_id}/events").json()
        admin.close()
    finally:
        server.stop()
    again = start_amp_local(tmp_path, blocks=200, snapshots=False)
    try:
        admin = AdminClient(again.admin_url)
        assert admin.get(f"/jobs/{job_id}").json()["status"] == "RUNNING"
        assert admin.get(f"/jobs/{job_id}/events").json() == events
        assert job_id in [j["id"] for j in admin.get("/jobs").json()["jobs"]]
        admin.put(f"/jobs/{job_id}/stop")
        assert wait_job(admin, job_id, {"STOPPED"})["status"] == "STOPPED"
        admin.close()
    finally:
        again.stop()


def test_a_continuous_job_follows_the_chain_head(tmp_path):
    server = start_amp_local(tmp_path, blocks=100, snapshots=False, extra_args=["--follow", "0.2"])
    try:
        admin = AdminClient(server.admin_url)
        register(
            admin,
            "saved",
            "head",
            build_manifest(admin, {"t": "SELECT block_num FROM eth.blocks"}, {"eth": RPC}),
        )
        job_id = deploy(admin, "saved/head@dev", None)
        deadline = time.monotonic() + 120  # bounds a broken server; not a timing assertion
        while True:
            table = admin.get(f"/jobs/{job_id}/progress").json()["tables"]["t"]
            if (table["current_block"] or 0) >= 110:
                break
            assert time.monotonic() < deadline, table
            time.sleep(0.2)
        assert (
            table["start_block"] == 0
            and admin.get(f"/jobs/{job_id}").json()["status"] == "RUNNING"
        )
        synced = count(server, 'SELECT * FROM "saved/head@dev".t')
        assert synced >= 111
        admin.put(f"/jobs/{job_id}/stop")
        wait_job(admin, job_id, {"STOPPED"})
        admin.close()
    finally:
        server.stop()
