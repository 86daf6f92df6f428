"""Deploying derived datasets on amp_local: jobs that really materialize, their lifecycle and events,
and the materialized rows served over Flight like any dataset (PROTOCOL §5.5, §6.3-6.6)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest

from tests.conftest import TEST_BLOCKS
from tests.functional.admin_client import (
    AdminClient,
    build_manifest,
    completed,
    deploy,
    error,
    register,
    wait_job,
)
from tests.functional.flight_client import chunks

RPC = "_/eth_rpc@1.0.0"
HEAD = TEST_BLOCKS - 1
TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
TRANSFERS_SQL = f"""
SELECT e.block_num, e.log_index, e.address AS token, e.ev['from'] AS sender, e.ev['value'] AS amount
FROM (
  SELECT block_num, log_index, address, evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') AS ev
  FROM eth.logs WHERE topic0 = evm_topic('{TRANSFER}')
) AS e
"""


def rows(client, sql: str) -> tuple[pa.Table, list[dict]]:
    """A query's rows and the app_metadata of its messages."""
    batches, metas = [], []
    for batch, meta in chunks(client, sql):
        metas.append(meta)
        if batch is not None and batch.num_rows:
            batches.append(batch)
    schema = batches[0].schema if batches else None
    return (pa.Table.from_batches(batches, schema=schema) if batches else pa.table({})), metas


def adhoc(sql: str) -> str:
    """A derived table's SQL as an ad-hoc query over the raw dataset."""
    return sql.replace("eth.logs", f'"{RPC}".logs').replace("eth.blocks", f'"{RPC}".blocks')


def test_deployed_dataset_materializes_what_the_sql_selects(admin, client, amp_server):
    manifest = build_manifest(admin, {"transfers": TRANSFERS_SQL}, {"eth": RPC})
    digest = register(admin, "jobs", "transfers", manifest, version="1.0.0")
    job_id = deploy(admin, "jobs/transfers@1.0.0", "latest")
    job = completed(admin, job_id)
    assert job["descriptor"] == {
        "kind": "materialize-derived",
        "end_block": "latest",
        "dataset_namespace": "jobs",
        "dataset_name": "transfers",
        "manifest_hash": digest,
    }

    table, metas = rows(client, 'SELECT * FROM "jobs/transfers@1.0.0".transfers')
    assert table.schema.field(0) == pa.field("_block_num", pa.uint64(), nullable=False)
    assert table.schema.names == [
        "_block_num",
        "block_num",
        "log_index",
        "token",
        "sender",
        "amount",
    ]
    expected, _ = rows(client, adhoc(TRANSFERS_SQL))
    assert table.num_rows == expected.num_rows > 100
    key = ["block_num", "log_index"]
    assert (
        table.drop_columns("_block_num")
        .sort_by([(k, "ascending") for k in key])
        .equals(expected.sort_by([(k, "ascending") for k in key]))
    )
    assert table.column("_block_num").equals(table.column("block_num"))
    # the block range served is what the job wrote, with the chain's real end-block hash
    (rng,) = metas[-1]["ranges"]
    assert (rng["numbers"], rng["network"]) == ({"start": 0, "end": HEAD}, "mainnet")
    block_hash, _ = rows(client, f'SELECT hash FROM "{RPC}".blocks WHERE block_num = {HEAD}')
    assert rng["hash"] == "0x" + block_hash.column("hash")[0].as_py().hex()

    progress = admin.get(f"/jobs/{job_id}/progress").json()
    t = progress["tables"]["transfers"]
    assert (progress["job_status"], t["start_block"], t["current_block"]) == ("COMPLETED", 0, HEAD)
    assert t["files_count"] >= 1 and t["total_size_bytes"] > 0
    segment_dir = (
        amp_server.data_dir / "admin" / "data" / "jobs" / "transfers" / digest / "transfers"
    )
    files = sorted(segment_dir.glob("*.parquet"))
    assert len(files) == t["files_count"]
    footer = json.loads(pq.read_metadata(files[0]).metadata[b"nozzle_metadata"])
    assert footer["table"] == "transfers" and footer["ranges"][0]["numbers"]["start"] == 0

    events = admin.get(f"/jobs/{job_id}/events").json()["events"]
    assert [e["event_type"] for e in events] == ["SCHEDULED", "RUNNING", "COMPLETED"]
    first = admin.get(f"/jobs/{job_id}/events/{events[0]['id']}").json()
    assert first["detail"] == job["descriptor"] and first["job_id"] == job_id
    error(admin.get(f"/jobs/{job_id}/events/999999"), 404, "EVENT_NOT_FOUND")
    listed = admin.get("/datasets/jobs/transfers/versions/1.0.0/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]

    # deploying the same manifest again: the same job, rescheduled, resuming from its data
    assert deploy(admin, "jobs/transfers@1.0.0", "latest") == job_id
    completed(admin, job_id)
    assert sorted(segment_dir.glob("*.parquet")) == files
    again, _ = rows(client, 'SELECT count(*) AS n FROM "jobs/transfers@1.0.0".transfers')
    assert again.column("n")[0].as_py() == table.num_rows


def test_join_aggregate_self_reference_and_a_derived_dependency(admin, client):
    tables = {
        "logs_timed": "SELECT l.block_num, l.log_index, b.timestamp AS block_time "
        "FROM eth.logs l JOIN eth.blocks b ON l.block_num = b.block_num",
        "per_block": "SELECT _block_num, count(*) AS logs FROM self.logs_timed GROUP BY _block_num",
    }
    digest = register(admin, "jobs", "timed", build_manifest(admin, tables, {"eth": RPC}))
    # a second dataset on top of the first, pinned to its manifest hash
    on_top = build_manifest(
        admin,
        {"busy": "SELECT _block_num, logs FROM timed.per_block WHERE logs > 3"},
        {"timed": f"jobs/timed@{digest}"},
    )
    register(admin, "jobs", "busy", on_top)
    first = deploy(admin, f"jobs/timed@{digest}", "latest")
    completed(admin, first)
    second = deploy(admin, "jobs/busy@dev", "latest")
    completed(admin, second)

    timed, _ = rows(client, 'SELECT count(*) AS n FROM "jobs/timed@dev".logs_timed')
    raw, _ = rows(client, f'SELECT count(*) AS n FROM "{RPC}".logs')
    assert timed.column("n").equals(raw.column("n"))
    per_block, _ = rows(client, 'SELECT _block_num, logs FROM "jobs/timed@dev".per_block')
    expected, _ = rows(
        client,
        f'SELECT block_num AS b, count(*) AS logs FROM "{RPC}".logs GROUP BY block_num',
    )
    assert dict(
        zip(per_block["_block_num"].to_pylist(), per_block["logs"].to_pylist(), strict=True)
    ) == dict(zip(expected["b"].to_pylist(), expected["logs"].to_pylist(), strict=True))
    busy, _ = rows(client, 'SELECT _block_num FROM "jobs/busy@dev".busy')
    assert sorted(busy["_block_num"].to_pylist()) == sorted(
        b
        for b, n in zip(expected["b"].to_pylist(), expected["logs"].to_pylist(), strict=True)
        if n > 3
    )


def test_never_deployed_tables_have_not_been_synced(admin, client):
    digest = register(
        admin,
        "jobs",
        "undeployed",
        build_manifest(admin, {"t": "SELECT block_num FROM eth.blocks"}, {"eth": RPC}),
    )
    with pytest.raises(flight.FlightInternalError) as exc:
        rows(client, 'SELECT * FROM "jobs/undeployed@dev".t')
    assert f"Table jobs/undeployed@{digest}.t has not been synced" in str(exc.value)


def test_continuous_job_conflicts_stop_and_delete(admin):
    register(
        admin,
        "jobs",
        "follow",
        build_manifest(admin, {"t": "SELECT block_num FROM eth.blocks"}, {"eth": RPC}),
    )
    job_id = deploy(admin, "jobs/follow@dev", None)
    wait_job(admin, job_id, {"RUNNING"})
    assert deploy(admin, "jobs/follow@dev", None) == job_id  # same descriptor: same job
    r = admin.post("/datasets/jobs/follow/versions/dev/deploy", json={"end_block": "latest"})
    assert "already has active job" in error(r, 409, "ACTIVE_JOB_CONFLICT")
    assert "cannot be deleted" in error(admin.delete(f"/jobs/{job_id}"), 409, "JOB_CONFLICT")
    active = [j["id"] for j in admin.get("/jobs").json()["jobs"]]
    assert job_id in active

    assert admin.put(f"/jobs/{job_id}/stop").status_code == 200
    assert wait_job(admin, job_id, {"STOPPED"})["status"] == "STOPPED"
    events = [e["event_type"] for e in admin.get(f"/jobs/{job_id}/events").json()["events"]]
    assert events[:2] == ["SCHEDULED", "RUNNING"]
    assert events[-3:] == ["STOP_REQUESTED", "STOPPING", "STOPPED"]
    assert admin.put(f"/jobs/{job_id}/stop").status_code == 200  # idempotent on a stopped job
    assert job_id not in [j["id"] for j in admin.get("/jobs").json()["jobs"]]  # not active
    assert admin.delete(f"/jobs/{job_id}").status_code == 204
    error(admin.get(f"/jobs/{job_id}"), 404, "JOB_NOT_FOUND")
    assert admin.delete(f"/jobs/{job_id}").status_code == 204
    error(admin.put(f"/jobs/{job_id}/stop"), 404, "JOB_NOT_FOUND")


def test_a_failing_job_records_why(admin):
    manifest = build_manifest(admin, {"t": "SELECT block_num FROM eth.blocks"}, {"eth": RPC})
    # Amp does not check declared schemas against the SQL at registration; the job finds out
    manifest["tables"]["t"]["schema"]["arrow"]["fields"].append(
        {"name": "not_selected", "type": "Utf8", "nullable": True}
    )
    register(admin, "jobs", "mismatch", manifest)
    job_id = deploy(admin, "jobs/mismatch@dev", "latest")
    assert wait_job(admin, job_id, {"ERROR", "COMPLETED"})["status"] == "ERROR"
    detail = admin.get(f"/jobs/{job_id}/progress").json()["detail"]
    assert detail["error_code"] == "SCHEMA_MISMATCH" and "not_selected" in detail["error_message"]
    assert detail["error_context"]["block_range_start"] == 0
    events = admin.get(f"/jobs/{job_id}/events").json()["events"]
    last = admin.get(f"/jobs/{job_id}/events/{events[-1]['id']}").json()
    assert last["event_type"] == "ERROR" and last["detail"] == detail
    failed = [j["id"] for j in admin.get("/jobs?status=error").json()["jobs"]]
    assert job_id in failed


def test_job_listing_pages_filters_and_bulk_deletes(admin):
    ids = []
    for i in range(3):
        sql = f"SELECT block_num FROM eth.blocks WHERE block_num % 3 = {i}"
        register(admin, "jobs", f"page_{i}", build_manifest(admin, {"t": sql}, {"eth": RPC}))
        ids.append(deploy(admin, f"jobs/page_{i}@dev", "latest"))
    for job_id in ids:
        completed(admin, job_id)
    first = admin.get("/jobs", params={"status": "all", "limit": 2}).json()
    assert len(first["jobs"]) == 2 and first["jobs"][0]["id"] > first["jobs"][1]["id"]
    assert first["next_cursor"] == first["jobs"][-1]["id"]
    rest = admin.get("/jobs", params={"status": "all", "last_job_id": first["next_cursor"]}).json()
    assert all(j["id"] < first["next_cursor"] for j in rest["jobs"])
    finished = admin.get("/jobs", params={"status": "completed,Error", "limit": 1000}).json()
    assert set(ids) <= {j["id"] for j in finished["jobs"]}
    assert {j["status"] for j in finished["jobs"]} <= {"COMPLETED", "ERROR"}

    error(admin.delete("/jobs", params={"status": "running"}), 400, "INVALID_QUERY_PARAM")
    error(admin.delete("/jobs"), 400, "INVALID_QUERY_PARAM")
    assert admin.delete("/jobs", params={"status": "completed"}).status_code == 204
    remaining = {
        j["id"] for j in admin.get("/jobs", params={"status": "all", "limit": 1000}).json()["jobs"]
    }
    assert not set(ids) & remaining


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/datasets/jobs/nothing/versions/dev/deploy", {}, 404, "DATASET_NOT_FOUND"),
        ("/datasets/_/eth_rpc/versions/1.0.0/deploy", {"end_block": 100}, 400, "INVALID_BODY"),
        ("/datasets/_/eth_rpc/versions/1.0.0/deploy", {"end_block": "soon"}, 400, "INVALID_BODY"),
        ("/datasets/_/eth_rpc/versions/1.0.0/deploy", {"worker_id": "elsewhere"}, 400,
         "WORKER_NOT_AVAILABLE"),
        ("/datasets/_/Eth/versions/1.0.0/deploy", {}, 400, "INVALID_PATH"),
    ],
)  # fmt: skip
def test_deploy_errors(admin, path, body, status, code):
    error(admin.post(path, json=body), status, code)


def test_raw_dataset_job_follows_its_folder(admin):
    job_id = deploy(admin, "_/eth_firehose@1.0.0", "latest")
    job = completed(admin, job_id)
    assert job["descriptor"]["kind"] == "materialize-raw"
    tables = admin.get(f"/jobs/{job_id}/progress").json()["tables"]
    assert set(tables) == {"blocks", "transactions", "calls", "logs"}
    assert {(t["start_block"], t["current_block"]) for t in tables.values()} == {(0, HEAD)}


def test_token_guards_the_admin_api(amp_server_with_token):
    anonymous = AdminClient(amp_server_with_token.admin_url)
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/datasets").status_code == 401
    anonymous.close()
    with_token = AdminClient(amp_server_with_token.admin_url, token=amp_server_with_token.token)
    assert with_token.get("/datasets").status_code == 200
    with_token.close()


def test_a_raw_manifest_registered_over_the_api_has_no_extractor(admin):
    manifest = admin.get("/datasets/_/eth_rpc/versions/1.0.0/manifest").json()
    r = admin.post("/manifests", json=manifest)
    assert r.status_code == 201
    digest = r.json()["hash"]
    assert admin.get(f"/datasets/_/eth_rpc/versions/{digest.upper()}").json()["kind"] == "evm-rpc"
    register(admin, "jobs", "raw_copy", digest)
    job_id = deploy(admin, "jobs/raw_copy@dev", "latest")
    assert wait_job(admin, job_id, {"ERROR", "COMPLETED"})["status"] == "ERROR"
    detail = admin.get(f"/jobs/{job_id}/progress").json()["detail"]
    assert detail["error_code"] == "NO_PROVIDER" and "--dataset" in detail["error_message"]
