"""A dataset's job lifecycle in the monitor's judgement: a bounded dataset whose job COMPLETED at
its end block far behind the head is `complete` (not stale, no alert); a model dbt registered but
did not deploy is `not deployed` (shown, not alerted). The run's adapter_response says the same."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_BLOCKS
from tests.functional.monitor_project import dbt, monitor, monitor_json, run_results, write_project

RPC = "_/eth_rpc@1.0.0"
END_BLOCK = 1_000  # half the session chain: its data is hours of block time behind the head
MODELS = {
    "bounded": (
        f"{{{{ config(materialized='dataset', deploy=true, wait=true, end_block={END_BLOCK}) }}}}\n"
        f'select block_num, log_index from "{RPC}".logs'
    ),
    "registered": (
        "{{ config(materialized='dataset', deploy=false) }}\n"
        f'select block_num, tx_hash from "{RPC}".logs'
    ),
}


@pytest.fixture(scope="module")
def project(amp_server, tmp_path_factory):
    assert amp_server.admin_url, "the session's amp_local has no Admin API"
    root = write_project(tmp_path_factory.mktemp("monitor_lifecycle"), amp_server, MODELS)
    dbt(root, "build")
    return root


def test_the_run_reports_what_the_monitor_judges(project):
    responses = {r["unique_id"].split(".")[-1]: r["adapter_response"]
                 for r in run_results(project)["results"]}  # fmt: skip
    assert responses["bounded"]["job_status"] == "COMPLETED"
    assert responses["bounded"]["end_block"] == str(END_BLOCK)
    assert responses["registered"].get("job_id") is None


def test_a_completed_bounded_dataset_is_complete_not_stale(project):
    rows = {r["name"]: r for r in monitor_json(project, "status")}
    bounded = rows["bounded"]
    assert bounded["status"] == "complete", bounded
    assert bounded["job_status"] == "COMPLETED" and bounded["progress"] == 100.0
    assert bounded["latest_block"] == END_BLOCK
    assert bounded["lag_blocks"] == TEST_BLOCKS - 1 - END_BLOCK  # still says how far behind
    assert bounded["reason"] == (
        f"job {bounded['job_id']} COMPLETED at its end block {END_BLOCK} "
        f"(data through block {END_BLOCK:,})"
    )


def test_a_registered_only_model_is_not_deployed(project):
    rows = {r["name"]: r for r in monitor_json(project, "status")}
    registered = rows["registered"]
    assert registered["status"] == "not deployed", registered
    assert registered["job_id"] is None
    assert "not deployed (no job): set deploy: true" in registered["reason"]
    plain = monitor(project, "status")
    [line] = [line for line in plain.stdout.splitlines() if line.startswith("registered")]
    assert line.split()[1:3] == ["not", "deployed"]


def test_neither_is_alerted(project):
    alerts = monitor(project, "alerts")
    assert alerts.exit_code == 0, alerts.output
    assert alerts.stdout == ""
    assert monitor_json(project, "alerts") == []
