"""`pip install dbt-amp` is the adapter alone: it runs with the local server's stack absent.

The `local` extra is installed in the test environment, so the subprocess makes its packages
unimportable (`sys.modules[name] = None` makes `import name` raise ImportError, as when it is not
installed) before dbt starts, then runs `dbt debug`, a query model and `dbt show`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import yaml

from tests.profiles import amp_target

# amp_local and what only the `local` extra installs (numpy included: pyarrow uses it if present)
LOCAL_ONLY = ("amp_local", "datafusion", "grpc", "sqlglot", "eth_abi", "eth_hash", "numpy")

SCRIPT = textwrap.dedent(
    """
    import json, sys
    for name in json.loads(sys.argv[2]):
        sys.modules[name] = None
    from dbt.cli.main import dbtRunner
    dirs = ["--project-dir", sys.argv[1], "--profiles-dir", sys.argv[1]]
    outcome = {}
    for command in (["debug"], ["run"], ["show", "-s", "head", "--limit", "1"]):
        outcome[command[0]] = dbtRunner().invoke([*command, *dirs]).success
    print("RESULT", json.dumps(outcome))
    """
)


def test_adapter_runs_without_the_local_extra(tmp_path, amp_server):
    (tmp_path / "dbt_project.yml").write_text(
        yaml.safe_dump({"name": "lean", "version": "1.0", "profile": "lean"})
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "head.sql").write_text(
        "{{ config(materialized='query') }}\n"
        'select max(block_num) as head from "_/eth_rpc@1.0.0".blocks'
    )
    profile = {"lean": {"target": "dev", "outputs": {"dev": amp_target(amp_server)}}}
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(profile))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), json.dumps(LOCAL_ONLY)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    lines = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(lines[0].removeprefix("RESULT ")) == {
        "debug": True,
        "run": True,
        "show": True,
    }
    assert "| 1999 |" in result.stdout  # dbt show printed the chain head (2,000 blocks)
