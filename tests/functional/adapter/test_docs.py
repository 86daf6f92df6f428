"""`dbt docs generate`: the catalog holds Amp's dataset tables and every ephemeral and query model,
each with columns and types from planning (GetFlightInfo only, nothing executed) and descriptions
from the YAML; models without rows keep their columns; one broken model is skipped with a warning;
the README's example project's catalog is checked after its build (test_unit_testing.py)."""

import json
from pathlib import Path

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture

from tests.functional.adapter.projects import EphemeralProject

SOURCES = """
version: 2
sources:
  - name: eth
    schema: "_/eth_rpc@0.0.0"
    tables:
      - name: logs
        description: Raw EVM logs.
        columns:
          - {name: address, description: The emitting contract.}
      - name: blocks
models:
  - name: stg_logs
    description: Logs with their block.
    columns:
      - {name: tx_hash, description: The transaction's hash.}
  - name: report
    description: How many logs there are.
"""
STG = "select block_num, tx_hash from {{ source('eth', 'logs') }}"
REPORT = "{{ config(materialized='query') }}\nselect count(*) as n from {{ ref('stg_logs') }}"
# no rows: the planned columns stay
NOTHING = "{{ config(materialized='query') }}\nselect block_num, hash from {{ source('eth', 'blocks') }} where false"
BROKEN = "select no_such_column from {{ source('eth', 'blocks') }}"
DATASET = (
    "{{ config(materialized='dataset') }}\nselect block_num from {{ source('eth', 'blocks') }}"
)


def read_catalog(project_root) -> dict:
    return json.loads((Path(project_root) / "target" / "catalog.json").read_text("utf-8"))


def column_types(entry: dict) -> dict:
    return {name: col["type"] for name, col in entry["columns"].items()}


class TestDocsGenerate(EphemeralProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sources.yml": SOURCES,
            "stg_logs.sql": STG,
            "report.sql": REPORT,
            "nothing.sql": NOTHING,
            "broken.sql": BROKEN,
            "blocks_dataset.sql": DATASET,
        }

    def test_catalog(self, project):
        _, output = run_dbt_and_capture(["docs", "generate"])
        assert "Skipping model 'broken' in the catalog" in output
        assert "No field named no_such_column" in output
        catalog = read_catalog(project.project_root)
        logs = catalog["sources"]["source.test.eth.logs"]
        assert logs["metadata"]["schema"] == "_/eth_rpc@0.0.0"
        assert logs["metadata"]["comment"] == "Raw EVM logs."
        assert logs["columns"]["address"]["comment"] == "The emitting contract."
        columns = column_types(logs)
        assert list(columns)[:3] == ["_block_num", "block_hash", "block_num"]
        assert columns["block_num"] == "BIGINT UNSIGNED"
        assert columns["address"] == "FixedSizeBinary(20)"
        nodes = catalog["nodes"]
        assert sorted(nodes) == [
            "model.test.blocks_dataset",
            "model.test.nothing",
            "model.test.report",
            "model.test.stg_logs",
        ]
        dataset = nodes["model.test.blocks_dataset"]
        assert dataset["metadata"]["type"] == "DATASET"
        assert column_types(dataset) == {"block_num": "BIGINT UNSIGNED"}
        stg = nodes["model.test.stg_logs"]
        assert stg["metadata"]["type"] == "EPHEMERAL"
        assert stg["metadata"]["comment"] == "Logs with their block."
        assert column_types(stg) == {
            "block_num": "BIGINT UNSIGNED",
            "tx_hash": "FixedSizeBinary(32)",
        }
        assert stg["columns"]["tx_hash"]["comment"] == "The transaction's hash."
        report = nodes["model.test.report"]
        assert report["metadata"]["type"] == "QUERY" and column_types(report) == {"n": "BIGINT"}
        assert column_types(nodes["model.test.nothing"]) == {
            "block_num": "BIGINT UNSIGNED",
            "hash": "FixedSizeBinary(32)",
        }

    def test_selection(self, project):
        run_dbt(["docs", "generate", "-s", "report"])
        catalog = read_catalog(project.project_root)
        assert sorted(catalog["nodes"]) == ["model.test.report"]
