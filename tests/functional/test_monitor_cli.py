"""`amp-dbt-monitor` commands on a project dbt built against the session's amp_local: tables
(plain when piped, coloured on a terminal), `--json`, selection, alerts' exit codes, jobs, the
`watch` loop (bounded, and driven by keys on a real pseudo-terminal), and one clear error for each
bad setup."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import TEST_BLOCKS
from tests.functional.monitor_project import dbt, monitor, monitor_json, write_project

HEAD = TEST_BLOCKS - 1
RPC = "_/eth_rpc@1.0.0"
MODELS = {
    # a bounded dataset job: it completes at the head of the (fixed) chain
    "transfers": (
        "{{ config(materialized='dataset', deploy=true, wait=true, end_block='latest', "
        "tags=['tokens']) }}\n"
        f'select block_num, log_index, address from "{RPC}".logs'
    ),
    "decoded": (
        "{{ config(materialized='query', track_progress=true, alert_threshold_minutes=10) }}\n"
        f'select block_num, tx_hash from "{RPC}".logs'
    ),
    "broken": (
        "{{ config(materialized='query', track_progress=true, track_column='nope') }}\n"
        f'select block_num from "{RPC}".blocks'
    ),
    # registers and deploys fine, then fails on Amp's worker: a job ERROR with Amp's error code
    "failing": (
        "{{ config(materialized='dataset', deploy=true) }}\n"
        "select block_num, cast(concat('x', cast(log_index as varchar)) as int) as v "
        f'from "{RPC}".logs'
    ),
    "helper": "select 1 as x",
}
MONITORED = {"broken", "decoded", "failing", "transfers"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MONITOR = str(Path(sys.executable).parent / "amp-dbt-monitor")


@pytest.fixture(scope="module")
def project(amp_server, tmp_path_factory):
    assert amp_server.admin_url, "the session's amp_local has no Admin API"
    # thresholds are model configs: the project's `models:` tree, overridden by a model's config()
    configs = {"+alert_threshold_minutes": 45}
    root = write_project(tmp_path_factory.mktemp("monitor_cli"), amp_server, MODELS, configs)
    dbt(root, "build")
    return root


def rows_of(text: str) -> dict[str, list[str]]:
    """Plain table lines by their first cell."""
    return {line.split()[0]: line.split() for line in text.splitlines()[1:] if line.strip()}


def test_status_is_a_plain_table_when_piped(project):
    result = monitor(project, "status")
    assert result.exit_code == 0, result.output
    assert not ANSI.search(result.stdout)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Model", "Status", "Latest", "block", "Behind", "Age",
                                "Threshold", "Job"]  # fmt: skip
    assert re.fullmatch(r"polled \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", lines[-1])
    rows = rows_of("\n".join(lines[:-1]))
    assert set(rows) == MONITORED  # monitored models only
    # its bounded job (end_block 'latest') COMPLETED: complete, not judged against the head
    assert rows["transfers"][:6] == ["transfers", "complete", f"{HEAD:,}", "0", "0s", "45m"]
    assert rows["decoded"][:6] == ["decoded", "fresh", f"{HEAD:,}", "0", "0s", "10m"]
    assert rows["broken"][:2] == ["broken", "error"]


def test_status_json_all_and_select(project):
    everything = {r["name"]: r for r in monitor_json(project, "status", "--all")}
    assert set(everything) == MONITORED | {"helper"}
    assert (everything["helper"]["status"], everything["helper"]["tracked"]) == (
        "untracked",
        False,
    )
    transfers = everything["transfers"]
    assert transfers["job_status"] == "COMPLETED" and transfers["progress"] == 100.0
    assert transfers["latest_block"] == transfers["head_block"] == HEAD
    assert transfers["lag_blocks"] == 0 and transfers["lag_seconds"] == 0
    assert transfers["row_count"] > 0 and transfers["network"] == "mainnet"
    assert "nope" in everything["broken"]["reason"]
    assert [r["name"] for r in monitor_json(project, "status", "-s", "tag:tokens")] == [
        "transfers"
    ]
    assert [r["name"] for r in monitor_json(project, "status", "-s", "d* helper")] == [
        "decoded",
        "helper",
    ]
    assert [r["name"] for r in monitor_json(project, "status", "-s", "path:models/b*")] == [
        "broken"
    ]
    bad = monitor(project, "status", "-s", "config.materialized:dataset")
    assert bad.exit_code == 2 and "unknown selector" in bad.output


def test_alerts_one_line_per_problem_and_exit_code(project):
    result = monitor(project, "alerts", "-s", "broken decoded transfers")
    assert result.exit_code == 3
    [line] = result.stdout.splitlines()
    assert line.startswith("ERROR broken: Amp refused the freshness query (max of track_column "
                           "'nope'): ")  # fmt: skip
    healthy = monitor(project, "alerts", "-s", "transfers decoded")
    assert (healthy.exit_code, healthy.stdout) == (0, "")
    as_json = monitor(project, "alerts", "--json", "-s", "b* t*")
    assert as_json.exit_code == 3
    assert [p["name"] for p in json.loads(as_json.stdout)] == ["broken"]


def test_a_failed_job_is_an_error_with_amps_code(project):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [failing] = monitor_json(project, "status", "-s", "failing")
        if failing["job_status"] == "ERROR":
            break
        time.sleep(0.5)
    assert (failing["status"], failing["job_status"]) == ("error", "ERROR")
    assert failing["reason"].startswith(f"job {failing['job_id']} ERROR: EXECUTION_ERROR: ")
    assert "Cannot cast string 'x" in failing["reason"]
    lines = monitor(project, "alerts").stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["ERROR broken", "ERROR failing"]
    [job] = monitor_json(project, "history", "failing")
    assert job["status"] == "ERROR" and job["error"].startswith("EXECUTION_ERROR: ")
    events = monitor_json(project, "jobs", "events", str(job["job_id"]))
    assert events[-1]["event_type"] == "ERROR"
    assert events[-1]["detail"]["error_code"] == "EXECUTION_ERROR"


def test_jobs_list_status_events_and_history(project):
    [run] = [r for r in run_results_of(project) if r["unique_id"].endswith(".transfers")]
    job_id = run["adapter_response"]["job_id"]
    jobs = monitor_json(project, "jobs", "list")
    [mine] = [j for j in jobs if j["job_id"] == job_id]
    assert all(j["id"] == j["job_id"] for j in jobs)  # the earlier name, kept
    assert (mine["model"], mine["status"], mine["end_block"]) == (
        "transfers",
        "COMPLETED",
        "latest",
    )
    assert mine["dataset"] == f"dbt_test/transfers@{run['adapter_response']['manifest_hash']}"
    listed = monitor(project, "jobs", "list")
    assert listed.exit_code == 0 and str(job_id) in rows_of(listed.stdout)

    job = monitor_json(project, "jobs", "status", str(job_id))
    assert job["job_id"] == job_id
    assert job["tables"]["transfers"]["current_block"] == HEAD
    assert job["model"] == "transfers"
    events = monitor_json(project, "jobs", "events", str(job_id))
    assert [e["event_type"] for e in events] == ["SCHEDULED", "RUNNING", "COMPLETED"]
    assert events[0]["detail"]["kind"] == "materialize-derived"

    [history] = monitor_json(project, "history", "transfers")
    assert (history["job_id"], history["status"], history["final_block"]) == (
        job_id,
        "COMPLETED",
        HEAD,
    )
    assert history["started_at"] and history["completed_at"] and history["rows_processed"] > 0


def run_results_of(root: Path) -> list[dict]:
    return json.loads((root / "target" / "run_results.json").read_text())["results"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["jobs", "status", "987654"], "Amp: JOB_NOT_FOUND"),
        (["jobs", "resume", "helper"], "is not a dataset model"),
        (["jobs", "resume", "nosuch"], "no model named 'nosuch'"),
        (["history", "nosuch"], "no model named 'nosuch'"),
    ],
)
def test_bad_arguments_get_one_clear_error(project, args, message):
    result = monitor(project, *args)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


def test_watch_is_bounded_and_scriptable(project):
    result = monitor(project, "watch", "--iterations", "2", "--interval", "0")
    assert result.exit_code == 0, result.output
    frames = result.stdout.split("\n\n")
    assert len(frames) == 2
    for frame in frames:
        lines = frame.strip().splitlines()
        assert lines[0] == "amp-dbt-monitor · amp_monitor · refreshing every 0s"
        assert lines[1].split()[:4] == ["Model", "Job", "Job", "status"]
        assert rows_of("\n".join(lines[1:]))["transfers"][2:5] == [
            "COMPLETED",
            "100%",
            f"{HEAD:,}",
        ]
    as_json = monitor(project, "watch", "--iterations", "3", "--interval", "0", "--json")
    frames = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(frames) == 3 and all({r["name"] for r in f} == MONITORED for f in frames)


def test_watch_on_a_terminal_refreshes_with_r_and_quits_with_q(project):
    """A real pseudo-terminal: colour, the table redrawn in place, keys without Enter."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: amp-dbt-monitor on the terminal
        os.environ.update(COLUMNS="120", LINES="40", TERM="xterm-256color")
        os.environ.pop("NO_COLOR", None)
        os.execv(MONITOR, [MONITOR, "watch", "--interval", "600", "--project-dir", str(project),
                           "--profiles-dir", str(project)])  # fmt: skip
    output = bytearray()

    def read_until(count: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while output.count(b"Press 'q' to quit") < count and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    output.extend(os.read(fd, 65536))
                except OSError:
                    return

    status = None
    try:
        read_until(1)
        assert output.count(b"Press 'q' to quit") == 1, output.decode(errors="replace")
        os.write(fd, b"r")  # refresh now, long before the 600 s interval
        read_until(2)
        assert output.count(b"Press 'q' to quit") >= 2
        os.write(fd, b"q")
        deadline = time.monotonic() + 30
        while status is None and time.monotonic() < deadline:
            read_until(99, 0.2)
            done, code = os.waitpid(pid, os.WNOHANG)
            status = code if done else None
    finally:
        if status is None:  # still running: it did not quit
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert status is not None, "watch did not quit on 'q'"
    assert os.waitstatus_to_exitcode(status) == 0
    text = output.decode(errors="replace")
    assert "\x1b[32m● fresh" in text  # coloured on a terminal
    assert "─" in text and "transfers" in text  # a rule under the table's header


def test_console_script(project):
    version = subprocess.run([MONITOR, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("amp-dbt-monitor, version ")
    stored = subprocess.run(
        [MONITOR, "status", "--no-poll", "--json"], capture_output=True, text=True, cwd=project
    )
    assert stored.returncode == 0, stored.stderr
    assert {r["name"] for r in json.loads(stored.stdout)} == MONITORED


def test_dbt_refuses_the_original_designs_monitoring_block(project, tmp_path):
    """Why thresholds are model configs: dbt 1.11 rejects a top-level `monitoring:` key."""
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("target", ".amp-dbt"))
    config = yaml.safe_load((copy / "dbt_project.yml").read_text())
    config["monitoring"] = {"alert_threshold_minutes": 30, "check_interval_seconds": 60}
    (copy / "dbt_project.yml").write_text(yaml.safe_dump(config))
    dbt_bin = str(Path(sys.executable).parent / "dbt")
    refused = subprocess.run(
        [dbt_bin, "parse", "--project-dir", str(copy), "--profiles-dir", str(copy)],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    assert "Additional properties are not allowed ('monitoring' was unexpected)" in refused.stdout


def test_setup_errors_are_one_clear_message(project, tmp_path):
    nowhere = monitor(tmp_path, "status")
    assert nowhere.exit_code == 1
    assert f"no dbt_project.yml in {tmp_path}" in nowhere.stderr
    assert "--project-dir" in nowhere.stderr

    wrong_profile = monitor(project, "status", "--profile", "nosuch")
    assert wrong_profile.exit_code == 1
    assert "no profile named 'nosuch'" in wrong_profile.stderr

    wrong_target = monitor(project, "status", "--target", "prod")
    assert wrong_target.exit_code == 1
    assert "does not have a target named 'prod'" in wrong_target.stderr

    no_artifacts = tmp_path / "fresh_project"
    no_artifacts.mkdir()
    (no_artifacts / "dbt_project.yml").write_text((project / "dbt_project.yml").read_text())
    missing = monitor(no_artifacts, "status", "--no-poll")
    assert missing.exit_code == 1
    assert "manifest.json does not exist: run `dbt build`" in missing.stderr
