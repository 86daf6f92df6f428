"""The official Amp CLI (`@edgeandnode/amp` on npm, pinned), installed with npm into a cache folder
on first use, and a way to run its Admin API commands.

One runtime note, measured here: 0.0.51 depends on undici 7, and importing it installs undici 7's
agent as the process-wide fetch dispatcher when Node's own fetch has not created one yet. On Node
< 24 (whose built-in fetch is undici 6) every Admin API request the CLI makes (`build`, `register`,
`deploy`) then fails before a byte is sent ("fetch failed: invalid content-length header"), against
any server; `query` speaks gRPC and is unaffected. On those Node versions `node_command` starts the
CLI with a preload that makes one `data:` fetch first, so Node's own dispatcher exists; the CLI's
code and requests are unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

AMP_CLI_PACKAGE = "@edgeandnode/amp"
AMP_CLI_VERSION = "0.0.51"
CACHE = Path(
    os.environ.get("AMP_CLI_CACHE", Path.home() / ".cache" / "dbt-amp" / "amp-cli")
).expanduser()


def installed_cli(folder: Path) -> Path | None:
    """The `amp` executable in `folder` if the pinned version is installed there."""
    manifest = folder / "node_modules" / "@edgeandnode" / "amp" / "package.json"
    binary = folder / "node_modules" / ".bin" / "amp"
    try:
        version = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return binary if version == AMP_CLI_VERSION and binary.exists() else None


@pytest.fixture(scope="session")
def amp_cli() -> Path:
    """`amp`, installed once per machine into AMP_CLI_CACHE (default ~/.cache/dbt-amp/amp-cli)."""
    folder = CACHE / AMP_CLI_VERSION
    binary = installed_cli(folder)
    if binary is not None:
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed to install Amp's CLI (@edgeandnode/amp)")
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=CACHE))
    result = subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(staging),
            f"{AMP_CLI_PACKAGE}@{AMP_CLI_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(f"npm could not install {AMP_CLI_PACKAGE}@{AMP_CLI_VERSION}:\n{result.stderr}")
    try:
        staging.rename(folder)  # atomic: a concurrent run either sees all of it or none
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another run installed it first
    binary = installed_cli(folder)
    assert binary is not None, f"npm installed {AMP_CLI_PACKAGE} but not its `amp` command"
    return binary


def node_command(amp_cli: Path) -> list[str]:
    """How to start the CLI so its fetch-based commands work on this machine's Node."""
    node_modules = amp_cli.parent.parent  # amp_cli is node_modules/.bin/amp
    main = node_modules / "@edgeandnode" / "amp" / "dist" / "cli" / "main.js"
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    if int(version.lstrip("v").split(".")[0]) >= 24:
        return ["node", str(main)]
    preload = node_modules.parent / "node-fetch-dispatcher.mjs"
    if not preload.exists():
        preload.write_text('await fetch("data:text/plain,x");\n')
    return ["node", "--import", str(preload), str(main)]
