"""`dataset` models end to end on amp_local's Admin API: ephemeral staging → a deployed and
waited-on dataset → a second dataset on top of it → tests on the materialized rows."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.amp.admin import AdminClient

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
HEAD = 1_999  # the session server's chain: blocks 0..1999

SOURCES = """
version: 2
sources:
  - name: rpc
    schema: "_/eth_rpc@1.0.0"
    tables: [{name: logs}, {name: blocks}]
models:
  - name: transfers
    columns:
      - name: tx_hash
        data_tests: [not_null]
      - name: block_num
        data_tests: [not_null]
  - name: even_block_transfers
    columns:
      - name: token
        data_tests: [not_null]
"""
STAGING = f"""
{{{{ config(materialized='ephemeral') }}}}
select block_num, tx_hash, log_index, address as token
from {{{{ source('rpc', 'logs') }}}}
where topic0 = evm_encode_hex('{TRANSFER}')
"""
TRANSFERS = f"""
{{{{ config(materialized='dataset', deploy=true, end_block='{HEAD}', wait=true) }}}}
select block_num, tx_hash, log_index, token from {{{{ ref('stg_transfers') }}}}
"""
EVEN = f"""
{{{{ config(materialized='dataset', version='1.0.0', deploy=true, end_block='{HEAD}', wait=true) }}}}
select block_num, tx_hash, token from {{{{ ref('transfers') }}}} where block_num % 2 = 0
"""
COUNTS_MATCH = f"""
-- the dataset holds exactly the raw Transfer logs of the chain
select * from (
  select (select count(*) from {{{{ ref('transfers') }}}}) as materialized,
         (select count(*) from {{{{ source('rpc', 'logs') }}}}
          where topic0 = evm_encode_hex('{TRANSFER}') and block_num <= {HEAD}) as raw
) where materialized <> raw
"""


def flight_scalar(server, sql: str):
    with flightsql.connect(server.flight_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def run_results(project) -> dict:
    data = json.loads((Path(project.project_root) / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[-1]: r for r in data["results"]}


class TestDatasetModels:
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sources.yml": SOURCES,
            "stg_transfers.sql": STAGING,
            "transfers.sql": TRANSFERS,
            "even_block_transfers.sql": EVEN,
            "transfer_count.sql": "{{ config(materialized='query') }}\n"
            "select count(*) as n from {{ ref('transfers') }}",
        }

    @pytest.fixture(scope="class")
    def tests(self):
        return {"transfer_counts_match_raw.sql": COUNTS_MATCH}

    def test_build_registers_deploys_waits_and_tests(self, project, amp_server):
        results = run_dbt(["build"])
        assert all(r.status in ("success", "pass") for r in results), [
            (r.node.name, r.status, r.message) for r in results
        ]
        ns = project.test_schema
        info = run_results(project)
        transfers = info["transfers"]["adapter_response"]
        assert transfers["namespace"] == ns and transfers["name"] == "transfers"
        assert transfers["dataset_reference"] == f'"{ns}/transfers@dev".transfers'
        assert transfers["job_status"] == "COMPLETED" and transfers["current_block"] == HEAD
        assert len(transfers["manifest_hash"]) == 64 and transfers["job_id"] >= 1
        even = info["even_block_transfers"]["adapter_response"]
        assert even["version"] == "1.0.0" and even["job_status"] == "COMPLETED"

        raw = flight_scalar(
            amp_server,
            'select count(*) from "_/eth_rpc@1.0.0".logs '
            f"where topic0 = evm_encode_hex('{TRANSFER}') and block_num <= {HEAD}",
        )
        assert raw > 0
        assert (
            flight_scalar(amp_server, f'select count(*) from "{ns}/transfers@dev".transfers')
            == raw
        )
        even_rows = flight_scalar(
            amp_server,
            f'select count(*) from "{ns}/even_block_transfers@1.0.0".even_block_transfers',
        )
        assert 0 < even_rows < raw

        # the second dataset depends on the first by pinned manifest hash, through an alias
        with AdminClient(amp_server.admin_url) as admin:
            stored = admin.manifest(ns, "even_block_transfers", "1.0.0")
        assert stored["dependencies"] == {
            "transfers": f"{ns}/transfers@{transfers['manifest_hash']}"
        }
        sql = stored["tables"]["even_block_transfers"]["input"]["sql"]
        assert "from transfers.transfers" in sql and '"' not in sql

        # unchanged models re-run: same hashes, same jobs, no error
        again = run_dbt(["run"])
        assert all(r.status == "success" for r in again)
        rerun = run_results(project)
        for name in ("transfers", "even_block_transfers"):
            before, after = info[name]["adapter_response"], rerun[name]["adapter_response"]
            assert (after["manifest_hash"], after["job_id"]) == (
                before["manifest_hash"],
                before["job_id"],
            )

    def test_empty_limits_refs_to_dataset_models(self, project):
        run_dbt(["run", "--empty", "-s", "transfer_count"])
        compiled = next(
            Path(project.project_root, "target", "compiled").rglob("transfer_count.sql")
        )
        sql = compiled.read_text()
        assert f'"{project.test_schema}/transfers@dev".transfers' in sql
        assert "limit 0" in sql.lower()

    def test_show_and_refs_read_the_deployed_rows(self, project):
        run_dbt(["run"])
        _, out = run_dbt_and_capture(["show", "-s", "even_block_transfers", "--limit", "3"])
        assert "block_num" in out and "token" in out


CONTINUOUS = """
{{ config(materialized='dataset', deploy=true, wait=true) }}
select block_num, hash from {{ source('rpc', 'blocks') }} where block_num >= {{ var('from', 0) }}
"""
VERSIONED = """
{{ config(materialized='dataset', version='1.0.0') }}
select block_num from {{ source('rpc', 'blocks') }} where block_num >= {{ var('from', 0) }}
"""
REGISTER_ONLY = "select block_num, tx_hash from {{ source('rpc', 'logs') }}"


class TestContinuousAndRegisterOnly:
    """A continuous job (no end_block) is waited on until it reaches the head; the original
    design's `register: true` / `deploy: false` register without deploying."""

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"test": {"registered": {"+register": True, "+deploy": False}}}}

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sources.yml": SOURCES.split("models:")[0],
            "continuous.sql": CONTINUOUS,
            "registered": {"log_index.sql": REGISTER_ONLY, "versioned.sql": VERSIONED},
        }

    def test_full_refresh_says_what_it_cannot_do(self, project):
        _, out = run_dbt_and_capture(["run", "-s", "log_index", "--full-refresh"])
        assert "--full-refresh cannot re-materialize" in out and "new hash" in out

    def test_continuous_wait_and_register_only(self, project, admin):
        results = run_dbt(["run"])
        assert {r.node.name: r.status for r in results} == {
            "continuous": "success",
            "log_index": "success",
            "versioned": "success",
        }
        info = run_results(project)
        cont = info["continuous"]["adapter_response"]
        assert cont["job_status"] == "RUNNING" and cont.get("end_block") is None
        assert cont["current_block"] >= HEAD
        reg = info["log_index"]["adapter_response"]
        assert reg.get("job_id") is None and reg["_message"].startswith("REGISTERED")
        ns = project.test_schema
        assert admin.get(f"/datasets/{ns}/log_index/versions/dev/jobs").json()["jobs"] == []

        # a registered but never deployed dataset: Amp's error, and what to do about it
        with pytest.raises(DbtRuntimeError) as err:
            run_dbt(["show", "--inline", "select * from {{ ref('log_index') }}"])
        assert "has not been synced" in str(err.value)
        assert "no job has materialized" in str(err.value)

        # new SQL: the old continuous job keeps running (said, with how to stop it); a semver tag
        # that moves to other SQL is said too
        _, out = run_dbt_and_capture(["run", "--vars", "{from: 5}"])
        assert f"job {cont['job_id']} of an earlier manifest" in out
        assert f"amp-dbt-monitor jobs stop {cont['job_id']}" in out
        assert f"{ns}/versioned@1.0.0 already names manifest" in out
        new_job = run_results(project)["continuous"]["adapter_response"]["job_id"]
        assert new_job != cont["job_id"]
        for job in (cont["job_id"], new_job):
            admin.put(f"/jobs/{job}/stop")


FAULTS = {
    "non_incremental.sql": "{{ config(materialized='dataset') }}\n"
    "select block_num from {{ source('rpc', 'blocks') }} order by block_num limit 5",
    "unknown_dependency.sql": "{{ config(materialized='dataset', dependencies={'x': '_/nope@1.0.0'}) }}\n"
    "select block_num from {{ ref('x') }}.blocks",
    "bad_version.sql": "{{ config(materialized='dataset', version='one') }}\nselect 1 as x",
    "dup_a.sql": "{{ config(materialized='dataset', dataset_name='dup') }}\n"
    "select block_num from {{ source('rpc', 'blocks') }}",
    "dup_b.sql": "{{ config(materialized='dataset', dataset_name='dup') }}\n"
    "select block_num, hash from {{ source('rpc', 'blocks') }}",
    "fails_at_runtime.sql": f"{{{{ config(materialized='dataset', deploy=true, end_block='{HEAD}', wait=true) }}}}\n"
    "select block_num, 1 / (block_num - block_num) as boom from {{ source('rpc', 'blocks') }}",
}


class TestDatasetFaults:
    @pytest.fixture(scope="class")
    def models(self):
        return {"sources.yml": SOURCES.split("models:")[0], **FAULTS}

    def test_each_fault_is_one_clear_message(self, project):
        _, out = run_dbt_and_capture(["run"], expect_pass=False)
        assert "Traceback" not in out
        assert "NON_INCREMENTAL_QUERY" in out and "model 'non_incremental'" in out
        assert "DEPENDENCY_NOT_FOUND" in out and "_/nope@1.0.0" in out
        assert "version 'one' is not a semver version" in out
        assert "model 'fails_at_runtime'" in out and "ended ERROR" in out
        assert "are both the Amp dataset" in out and "dup_a" in out and "dup_b" in out
        assert "/jobs/" in out  # where to read the job's events

    def test_unreachable_admin_api(self, project, amp_server):
        profile = Path(project.profiles_dir) / "profiles.yml"
        text = profile.read_text()
        profile.write_text(text.replace(amp_server.admin_url, "http://127.0.0.1:9"))
        try:
            _, out = run_dbt_and_capture(["run", "-s", "non_incremental"], expect_pass=False)
            _, debug = run_dbt_and_capture(["debug"], expect_pass=False)
        finally:
            profile.write_text(text)
        for output in (out, debug):  # dbt debug proves the Admin API with a real call
            assert "could not reach Amp's Admin API at http://127.0.0.1:9" in output
            assert "Traceback" not in output and "refused the dataset's SQL" not in output


class TestManifestEqualsAmpBuild:
    """For the same SQL and dependencies, dbt-amp registers exactly the manifest `amp build`
    writes (the CLI adds a `network` per table, which Amp's canonical form drops)."""

    SQL = (
        "SELECT block_num, log_index, address, evm_decode_hex(address) AS token "
        "FROM eth.logs WHERE topic0 = evm_topic('Transfer(address indexed from, address indexed "
        "to, uint256 value)')"
    )

    @pytest.fixture(scope="class")
    def models(self):
        model = self.SQL.replace("eth.logs", "{{ ref('eth') }}.logs")
        config = "{{ config(materialized='dataset', dependencies={'eth': '_/eth_rpc@1.0.0'}) }}\n"
        return {"transfers.sql": config + model + "\n"}

    def test_same_json_same_hash(self, project, amp_cli, amp_server, admin, tmp_path):
        from amp_local.schemas import canonical_json
        from tests.functional.test_amp_cli_datasets import AmpProjects

        run_dbt(["run"])
        ours = run_results(project)["transfers"]["adapter_response"]
        amp = AmpProjects(amp_cli)
        cli_project = amp.project(
            tmp_path / "cli", namespace="cli_eq", name="transfers", table="transfers",
            sql=json.dumps(self.SQL),
        )  # fmt: skip
        result = amp(cli_project, "build", "--admin-url", amp_server.admin_url, "-o", "m.json")
        assert result.returncode == 0, result.stdout + result.stderr
        built = json.loads((cli_project / "m.json").read_text())
        for table in built["tables"].values():
            assert table.pop("network") == "mainnet"
        stored = admin.get(
            f"/datasets/{project.test_schema}/transfers/versions/dev/manifest"
        ).json()
        assert canonical_json(stored) == canonical_json(built)
        assert ours["manifest_hash"] == hashlib.sha256(canonical_json(built).encode()).hexdigest()


NEVER_DONE = """
{{ config(materialized='dataset', deploy=true, end_block='99999999', wait=var('wait', true)) }}
select block_num, hash from {{ source('rpc', 'blocks') }}
"""


class TestCtrlCWhileWaiting:
    """Ctrl-C while dbt waits: dbt stops at once, says the job keeps running on Amp, and a re-run
    re-attaches to the same job (nothing half-registered)."""

    @pytest.fixture(scope="class")
    def models(self):
        return {"sources.yml": SOURCES.split("models:")[0], "never_done.sql": NEVER_DONE}

    def test_interrupt_then_rerun(self, project, admin):
        dbt = Path(sys.executable).parent / "dbt"
        dirs = ["--project-dir", project.project_root, "--profiles-dir", project.profiles_dir]
        process = subprocess.Popen(
            [str(dbt), "run", *dirs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "never_done@dev job" in line:  # the first progress line: dbt is waiting
                break
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
        out = "".join(seen) + out
        assert process.returncode != 0
        # (dbt-core 1.11 itself prints a KeyboardInterrupt traceback on exit, for any adapter)
        assert "keeps running on Amp" in out and "Exited because of keyboard interrupt" in out
        job_id = int(out.split("never_done@dev job ")[1].split()[0])
        assert admin.get(f"/jobs/{job_id}").json()["status"] in ("SCHEDULED", "RUNNING")

        # re-run without waiting: the same manifest re-attaches to the same job
        run_dbt(["run", "--vars", "{wait: false}"])
        again = run_results(project)["never_done"]["adapter_response"]
        assert again["job_id"] == job_id and again["job_status"] in ("SCHEDULED", "RUNNING")
        admin.put(f"/jobs/{job_id}/stop")
