"""dbt artifacts shaped as dbt-core 1.11 writes them (manifest v12, run-results v6), for the
monitor's unit tests and benchmarks. Only the fields the monitor reads are filled in; the
functional tests check the same reading against artifacts dbt itself wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST_V12 = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_V6 = "https://schemas.getdbt.com/dbt/run-results/v6.json"
CHAIN = "_/eth_firehose@1.0.0"


def model_node(
    name: str,
    *,
    project: str = "amp_project",
    materialized: str = "ephemeral",
    compiled_code: str | None = None,
    schema: str = "dbt_test",
    tags: tuple[str, ...] = (),
    depends_on: tuple[str, ...] = (),
    **config: Any,
) -> dict:
    return {
        "unique_id": f"model.{project}.{name}",
        "resource_type": "model",
        "name": name,
        "package_name": project,
        "schema": schema,
        "alias": name,
        "original_file_path": f"models/{name}.sql",
        "tags": list(tags),
        "config": {"materialized": materialized, **config},
        "compiled_code": compiled_code,
        "depends_on": {"nodes": list(depends_on), "macros": []},
    }


def source_node(table: str, reference: str = CHAIN, source: str = "eth") -> dict:
    return {
        "unique_id": f"source.amp_project.{source}.{table}",
        "resource_type": "source",
        "name": table,
        "identifier": table,
        "schema": reference,
    }


def manifest(nodes: list[dict], sources: list[dict] = (), adapter: str = "amp") -> dict:
    return {
        "metadata": {
            "dbt_schema_version": MANIFEST_V12,
            "dbt_version": "1.11.0",
            "generated_at": "2026-03-01T12:00:00.000000Z",
            "invocation_id": "00000000-0000-0000-0000-000000000001",
            "adapter_type": adapter,
        },
        "nodes": {n["unique_id"]: n for n in nodes},
        "sources": {s["unique_id"]: s for s in sources},
    }


def dataset_result(
    model_id: str,
    *,
    namespace: str = "dbt_test",
    name: str,
    manifest_hash: str = "ab" * 32,
    job_id: int | None = 1,
    job_status: str | None = "RUNNING",
    status: str = "success",
    message: str | None = None,
) -> dict:
    return {
        "unique_id": model_id,
        "status": status,
        "message": message or f"DEPLOYED {namespace}/{name}@dev job {job_id}",
        "timing": [
            {
                "name": "execute",
                "started_at": "2026-03-01T12:00:00Z",
                "completed_at": "2026-03-01T12:00:02Z",
            }  # fmt: skip
        ],
        "adapter_response": {
            "_message": "DEPLOYED",
            "namespace": namespace,
            "name": name,
            "version": None,
            "table": name,
            "manifest_hash": manifest_hash,
            "dataset_reference": f'"{namespace}/{name}@dev".{name}',
            "job_id": job_id,
            "job_status": job_status,
            "end_block": None,
        },
    }


def run_results(results: list[dict]) -> dict:
    return {
        "metadata": {
            "dbt_schema_version": RUN_RESULTS_V6,
            "dbt_version": "1.11.0",
            "generated_at": "2026-03-01T12:00:03Z",
            "invocation_id": "00000000-0000-0000-0000-000000000002",
        },
        "results": results,
        "elapsed_time": 2.0,
    }


def write_project(
    directory: Path, manifest_data: dict | None, run_results_data: dict | None = None
) -> Path:
    """A project folder with a dbt_project.yml and the given artifacts in target/."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dbt_project.yml").write_text("name: amp_project\nprofile: amp_project\n")
    target = directory / "target"
    target.mkdir(exist_ok=True)
    if manifest_data is not None:
        (target / "manifest.json").write_text(json.dumps(manifest_data))
    if run_results_data is not None:
        (target / "run_results.json").write_text(json.dumps(run_results_data))
    return directory
