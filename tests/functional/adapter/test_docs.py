"""`dbt docs generate`: the catalog holds Amp's dataset tables (planned, not scanned); query and
ephemeral models create nothing on Amp and are left out without noise."""

import json

import pytest
from dbt.tests.util import run_dbt_and_capture

SOURCES = """
version: 2
sources:
  - name: eth
    schema: "_/eth_rpc@0.0.0"
    tables:
      - name: logs
      - name: blocks
"""
STG = "select block_num, tx_hash from {{ source('eth', 'logs') }}"
REPORT = "{{ config(materialized='query') }}\nselect count(*) as n from {{ ref('stg_logs') }}"


class TestDocsGenerate:
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+materialized": "ephemeral"}}

    @pytest.fixture(scope="class")
    def models(self):
        return {"sources.yml": SOURCES, "stg_logs.sql": STG, "report.sql": REPORT}

    def test_catalog(self, project):
        _, output = run_dbt_and_capture(["docs", "generate"])
        assert "Skipping" not in output
        catalog = json.loads((project.project_root / "target" / "catalog.json").read_text("utf-8"))
        logs = catalog["sources"]["source.test.eth.logs"]
        assert logs["metadata"]["schema"] == "_/eth_rpc@0.0.0"
        columns = {name: col["type"] for name, col in logs["columns"].items()}
        assert list(columns)[:3] == ["_block_num", "block_hash", "block_num"]
        assert columns["block_num"] == "BIGINT UNSIGNED"
        assert "20" in columns["address"]  # FixedSizeBinary(20)
        assert catalog["nodes"] == {}
