"""Ctrl-C during a running `query` model cancels the Flight call, and dbt stops promptly."""

import signal
import subprocess
import time

import yaml

from amp_local.launcher import start_amp_local

SLOW = "{{ config(materialized='query') }}\nselect sum(value % 7) as s from range(20000000000)"


def test_ctrl_c_cancels_a_running_query(tmp_path):
    # its own server: the cancelled query keeps one server thread busy until DataFusion finishes
    server = start_amp_local(tmp_path / "amp", blocks=0, snapshots=False)
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "slow.sql").write_text(SLOW)
    (project / "dbt_project.yml").write_text(
        yaml.safe_dump({"name": "canc", "version": "1.0", "profile": "canc"})
    )
    target = {"type": "amp", "query_url": server.flight_url, "schema": "x", "threads": 1}
    (project / "profiles.yml").write_text(
        yaml.safe_dump({"canc": {"target": "d", "outputs": {"d": target}}})
    )
    try:
        dbt = subprocess.Popen(
            ["dbt", "run", "--project-dir", str(project), "--profiles-dir", str(project)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = []
        for line in dbt.stdout:
            output.append(line)
            if "START sql query model" in line:
                break
        time.sleep(1.0)  # the query is now running on the server
        interrupted = time.monotonic()
        dbt.send_signal(signal.SIGINT)
        rest, _ = dbt.communicate(timeout=60)
        elapsed = time.monotonic() - interrupted
        text = "".join(output) + rest
        assert dbt.returncode != 0
        assert "CANCEL query model.canc.slow" in text
        assert elapsed < 10, f"dbt took {elapsed:.1f}s to stop after Ctrl-C"
    finally:
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 10  # a busy query does not hold up shutdown
