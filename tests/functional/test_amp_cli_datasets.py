"""Amp's own CLI is the judge of amp_local's Admin API: the official `@edgeandnode/amp` (pinned
0.0.51, see `amp_cli.py`) builds, registers, deploys and queries a derived dataset against the
session's amp_local, as a user does with an `amp.config.ts`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow.flight as flight
import pytest

from amp_local.schemas import manifest_hash
from tests.functional.admin_client import completed
from tests.functional.amp_cli import node_command
from tests.functional.flight_client import chunks

CONFIG = """import {{ defineDataset }} from "@edgeandnode/amp"

export default defineDataset(() => ({{
  namespace: "{namespace}",
  name: "{name}",
  network: "mainnet",
  dependencies: {{ eth: "_/eth_rpc@1.0.0" }},
  tables: {{ {table}: {{ sql: {sql} }} }},
}}))
"""
SQL = (
    "SELECT block_num, log_index, address, evm_decode_hex(address) AS token "
    "FROM eth.logs WHERE topic0 = evm_topic('Transfer(address indexed from, address indexed to, "
    "uint256 value)')"
)


class AmpProjects:
    """Runs the CLI in project folders that hold an `amp.config.ts`."""

    def __init__(self, amp_cli: Path) -> None:
        self.command = node_command(amp_cli)
        self.node_modules = amp_cli.parent.parent

    def project(self, directory: Path, **config) -> Path:
        """A project folder with `amp.config.ts` and the CLI's package resolvable from it."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "amp.config.ts").write_text(CONFIG.format(**config))
        link = directory / "node_modules"
        if not link.exists():
            link.symlink_to(self.node_modules, target_is_directory=True)
        return directory

    def __call__(self, cwd: Path, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, HOME=str(cwd / "home"), NO_COLOR="1")  # no login cache of ours
        (cwd / "home").mkdir(exist_ok=True)
        return subprocess.run(
            [*self.command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )


@pytest.fixture(scope="module")
def amp(amp_cli) -> AmpProjects:
    return AmpProjects(amp_cli)


def flight_url(server) -> str:
    return f"http://127.0.0.1:{server.flight_port}"  # the CLI speaks gRPC over http://


def count(server, sql: str) -> int:
    client = flight.connect(server.flight_url)
    try:
        return sum(b.num_rows for b, _ in chunks(client, sql) if b is not None)
    finally:
        client.close()


def check(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"amp failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def test_official_cli_builds_registers_deploys_and_queries(amp, amp_server, admin, tmp_path):
    project = amp.project(
        tmp_path / "project",
        namespace="cli_judge",
        name="transfers",
        table="transfers",
        sql=json.dumps(SQL),
    )
    admin_url = ["--admin-url", amp_server.admin_url]

    # amp build: POST /schema, then the manifest the SDK assembles from it
    check(amp(project, "build", *admin_url, "-o", "manifest.json"))
    built = json.loads((project / "manifest.json").read_text())
    table = built["tables"]["transfers"]
    assert table["network"] == "mainnet" and table["input"]["sql"] == SQL
    schema = admin.post(
        "/schema", json={"tables": {"transfers": SQL}, "dependencies": {"eth": "_/eth_rpc@1.0.0"}}
    )
    assert table["schema"] == {"arrow": schema.json()["schemas"]["transfers"]["arrow"]}
    assert [f["name"] for f in table["schema"]["arrow"]["fields"]][0] == "_block_num"

    # amp register: POST /datasets; the server keeps the canonical manifest the CLI built
    check(amp(project, "register", "--tag", "1.0.0", *admin_url))
    info = admin.get("/datasets/cli_judge/transfers/versions/1.0.0").json()
    assert info["manifest_hash"] == manifest_hash(built)
    assert (
        admin.get("/datasets/cli_judge/transfers/versions/dev").json()["manifest_hash"]
        == info["manifest_hash"]
    )

    # amp deploy (by reference, then from the config = @dev): one job for the one manifest
    out = check(
        amp(
            project,
            "deploy",
            "--reference",
            "cli_judge/transfers@1.0.0",
            "--end-block",
            "latest",
            *admin_url,
        )
    )
    assert "Deployment started for dataset cli_judge/transfers@1.0.0" in out
    (job,) = admin.get("/datasets/cli_judge/transfers/versions/1.0.0/jobs").json()["jobs"]
    completed(admin, job["id"])
    check(amp(project, "deploy", "--end-block", "latest", *admin_url))
    assert [
        j["id"]
        for j in admin.get("/datasets/cli_judge/transfers/versions/dev/jobs").json()["jobs"]
    ] == [job["id"]]
    completed(admin, job["id"])

    # amp query over Flight: the materialized rows
    sql = 'SELECT count(*) AS n, min(_block_num) AS lo FROM "cli_judge/transfers@1.0.0".transfers'
    rows = json.loads(
        check(
            amp(project, "query", "--flight-url", flight_url(amp_server), "--format", "json", sql)
        )
    )
    expected = count(amp_server, SQL.replace("eth.logs", '"_/eth_rpc@1.0.0".logs'))
    assert rows == [{"n": str(expected), "lo": "0"}] and expected > 100


def test_official_cli_surfaces_amps_refusal(amp, amp_server, tmp_path):
    project = amp.project(
        tmp_path / "refused",
        namespace="cli_judge",
        name="limited",
        table="t",
        sql=json.dumps(SQL + " LIMIT 5"),
    )
    result = amp(project, "build", "--admin-url", amp_server.admin_url)
    # 0.0.51 predates the NON_INCREMENTAL_QUERY code: it cannot decode it, but shows what came back
    assert result.returncode != 0
    assert "NON_INCREMENTAL_QUERY" in result.stdout + result.stderr
