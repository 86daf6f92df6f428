"""A dbt-amp project on disk for the monitor's tests: written, built with the real `dbt` (a
subprocess, as a user runs it), then watched with `amp-dbt-monitor` (click's runner, in process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from amp_dbt_monitor.cli import cli
from amp_local.launcher import AmpServer
from tests.profiles import amp_target

PROFILE = "amp_monitor"


def write_project(
    root: Path,
    server: AmpServer,
    models: dict[str, str],
    model_configs: dict | None = None,
    targets: dict[str, dict] | None = None,
    **target: object,
) -> Path:
    """dbt_project.yml, profiles.yml (target `dev` pointing at `server`, plus `targets`: name →
    overrides of it) and models/<name>.sql."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    project = {
        "name": PROFILE,
        "profile": PROFILE,
        "models": {PROFILE: {"+materialized": "ephemeral", **(model_configs or {})}},
    }
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project))
    outputs = {"dev": amp_target(server, **target)}
    for name, overrides in (targets or {}).items():
        outputs[name] = {**outputs["dev"], **overrides}
    profile = {PROFILE: {"target": "dev", "outputs": outputs}}
    (root / "profiles.yml").write_text(yaml.safe_dump(profile))
    for name, sql in models.items():
        (root / "models" / f"{name}.sql").write_text(sql)
    return root


def dbt(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`dbt <args>` in the project, as a separate process; fails the test with dbt's output."""
    command = [str(Path(sys.executable).parent / "dbt"), *args]
    command += ["--project-dir", str(root), "--profiles-dir", str(root)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def monitor(root: Path, *args: str) -> Result:
    """`amp-dbt-monitor <args>` for the project in `root` (and its profiles.yml)."""
    where = ("--project-dir", str(root), "--profiles-dir", str(root))
    split = 2 if args and args[0] == "jobs" else 1
    args = (*args[:split], *where, *args[split:])
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def monitor_json(root: Path, *args: str) -> object:
    result = monitor(root, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_results(root: Path) -> dict:
    return json.loads((root / "target" / "run_results.json").read_text())
