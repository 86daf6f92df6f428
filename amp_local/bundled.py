"""Files that ship inside `amp_local`: Amp's real table snapshots and Amp's published JSON schemas.

They are package data, so a wheel or a fresh clone serves and validates against them with no setup.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SNAPSHOTS_DIR = PACKAGE_DIR / "snapshots"
AMP_SCHEMAS_DIR = PACKAGE_DIR / "amp_schemas"

# Amp's real raw datasets (Ethereum mainnet block 15,000,000; a Base block), named as Amp's own tests
# register them. `amp-local serve --snapshots` serves them beside the synthetic chain.
SNAPSHOT_DATASETS: dict[str, Path] = {
    "_/eth_rpc@0.0.0": SNAPSHOTS_DIR / "eth_rpc",
    "_/eth_firehose@0.0.0": SNAPSHOTS_DIR / "eth_firehose",
    "_/base_rpc@0.0.0": SNAPSHOTS_DIR / "base_rpc",
}


def snapshot_datasets() -> dict[str, Path]:
    """The shipped snapshot folders; a clear error if the installation lost them."""
    missing = [str(p) for p in SNAPSHOT_DATASETS.values() if not (p / "manifest.json").is_file()]
    if missing:
        raise FileNotFoundError(
            f"Amp snapshot folders missing from the amp_local package: {missing}; reinstall "
            "dbt-amp with the local extra (pip install 'dbt-amp[local]')"
        )
    return dict(SNAPSHOT_DATASETS)


def amp_schema_path(name: str) -> Path:
    """One of Amp's published JSON schemas (e.g. 'admin.openapi.json'); fails if it is not shipped."""
    path = AMP_SCHEMAS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not among Amp's schemas shipped in {AMP_SCHEMAS_DIR}")
    return path
