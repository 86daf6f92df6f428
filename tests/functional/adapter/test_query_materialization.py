"""The `query` materialization: enforced contracts (types planned by the server, SQL and Arrow type
spellings) and all four kinds of hooks, in one `dbt --debug run`."""

import pytest
from dbt.tests.util import run_dbt_and_capture

from tests.functional.adapter.projects import messages, results_by_name, statuses

SELECT = """
select block_num, hash, timestamp, cast(1.5 as double) as d, 'x' as s
from {{ source('fh', 'blocks') }} where block_num < 3
"""
QUERY = "{{ config(materialized='query') }}\n" + SELECT
HOOKED = """
{{ config(
    materialized='query',
    pre_hook=[before_begin("select 'hook_before_begin' as h"), "select 'hook_pre' as h"],
    post_hook=["select 'hook_post' as h", after_commit("select 'hook_after_commit' as h")],
) }}
select 'hook_model' as h
"""
COLUMNS_OK = """
      - {name: block_num, data_type: bigint unsigned}
      - {name: hash, data_type: FixedSizeBinary(32)}
      - {name: timestamp, data_type: 'Timestamp(Nanosecond, Some("+00:00"))'}
      - {name: d, data_type: double}
      - {name: s, data_type: varchar}
"""
PROPERTIES = f"""
version: 2
sources:
  - name: fh
    schema: "_/eth_firehose@1.0.0"
    tables: [{{name: blocks}}]
models:
  - name: contract_ok
    config: {{contract: {{enforced: true}}}}
    columns: {COLUMNS_OK}
  - name: contract_wrong_type
    config: {{contract: {{enforced: true}}}}
    columns: {COLUMNS_OK.replace("{name: d, data_type: double}", "{name: d, data_type: bigint}")}
  - name: contract_missing_column
    config: {{contract: {{enforced: true}}}}
    columns: {COLUMNS_OK}
      - {{name: extra, data_type: int}}
  - name: no_contract
    columns:
      - {{name: d, data_type: bigint}}
"""


class TestQueryMaterialization:
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "contract_ok.sql": QUERY,
            "contract_wrong_type.sql": QUERY,
            "contract_missing_column.sql": QUERY,
            "no_contract.sql": QUERY,
            "hooked.sql": HOOKED,
            "properties.yml": PROPERTIES,
        }

    def test_contracts_and_hooks(self, project):
        results, log = run_dbt_and_capture(["--debug", "run"], expect_pass=False)
        by_name = results_by_name(results)
        assert statuses(results) == {
            "contract_ok": "success",
            "contract_wrong_type": "error",
            "contract_missing_column": "error",
            "no_contract": "success",  # declared types are only checked when enforced
            "hooked": "success",
        }, messages(results)
        assert by_name["contract_ok"].adapter_response["rows"] == 3
        wrong = by_name["contract_wrong_type"].message
        assert "enforced contract that failed" in wrong
        assert "| d " in wrong and "DOUBLE" in wrong and "BIGINT" in wrong, wrong
        assert "data type mismatch" in wrong
        missing = by_name["contract_missing_column"].message
        assert "extra" in missing and "missing in definition" in missing, missing
        # all four kinds of hooks, in dbt's order, and no `commit` sent to Amp
        order = ["hook_before_begin", "hook_pre", "hook_model", "hook_post", "hook_after_commit"]
        positions = [log.find(f"select '{name}' as h") for name in order]
        assert all(p >= 0 for p in positions), dict(zip(order, positions, strict=True))
        assert positions == sorted(positions), dict(zip(order, positions, strict=True))
        assert "commit;" not in log
