"""What a wheel and a fresh clone carry: the data amp_local serves, nothing read from outside."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from amp_local.bundled import AMP_SCHEMAS_DIR, SNAPSHOT_DATASETS

REPO = Path(__file__).resolve().parents[2]


def tracked_files() -> list[str]:
    return subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()


def test_wheel_ships_snapshots_and_schemas_and_the_lean_dependencies(tmp_path):
    # build from a copy of the tracked files (what a clone has), offline, with the installed setuptools
    source = tmp_path / "src"
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    build = "from setuptools import build_meta; print(build_meta.build_wheel('../dist'))"
    subprocess.run(
        [sys.executable, "-c", build], cwd=source, check=True, capture_output=True, timeout=300
    )
    (wheel,) = (tmp_path / "dist").glob("dbt_amp-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
        entry_points = entry_points.decode()
    shipped = {
        p.relative_to(REPO).as_posix()
        for folder in (*SNAPSHOT_DATASETS.values(), AMP_SCHEMAS_DIR)
        for p in folder.rglob("*")
        if p.is_file()
    }
    assert len(shipped) > 15 and shipped <= names, sorted(shipped - names)
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    core = [line for line in requires if "extra ==" not in line]
    for heavy in ("datafusion", "grpcio", "numpy", "sqlglot", "eth-abi", "eth-hash"):
        assert not any(heavy in line for line in core), f"{heavy} is a core dependency"
        assert any(heavy in line and 'extra == "local"' in line for line in requires)
    # the monitor is part of `pip install dbt-amp`: its CLI and tables, and its console script
    for needed in ("rich", "click"):
        assert any(line.startswith(f"Requires-Dist: {needed}") for line in core), needed
    assert "amp_dbt_monitor/cli.py" in names
    assert "amp-dbt-monitor = amp_dbt_monitor.cli:cli" in entry_points


# the reference folder beside the checkout, and the variable that once pointed into it (spelled
# in pieces so that this file does not match itself)
SHARED = "share" + "d"
OUTSIDE = (f"../{SHARED}", f"{SHARED}/amp", "AMP_" + "SNAPSHOTS")


def test_nothing_reads_outside_the_repository():
    offenders = [
        name
        for name in tracked_files()
        if name.endswith((".py", ".yml", ".sql", ".toml", ".cfg", "run"))
        and any(needle in (REPO / name).read_text(errors="ignore") for needle in OUTSIDE)
    ]
    assert offenders == []
