"""`ref()` to a `query` model inlines it as a CTE, as for ephemeral models: generic, singular and
unit tests on query models, a query model feeding another, ephemeral models over query models;
the query model itself still runs with its own compiled SQL."""

import json
from pathlib import Path

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture

from tests.functional.adapter.projects import (
    EphemeralProject,
    messages,
    results_by_name,
    statuses,
)

STG = "select block_num, hash from {{ source('fh', 'blocks') }} where block_num < 5"
BLOCKS = "{{ config(materialized='query') }}\nselect block_num, hash from {{ ref('stg_blocks') }}"
# a query model over a query model and the ephemeral both use: one CTE each, in order
BLOCK_COUNT = """
{{ config(materialized='query') }}
select count(*) as n from {{ ref('blocks') }} b join {{ ref('stg_blocks') }} s using (block_num)
"""
# an ephemeral model over a query model, used by another query model
EVEN_BLOCKS = "select block_num from {{ ref('blocks') }} where block_num % 2 = 0"
EVEN_COUNT = (
    "{{ config(materialized='query') }}\nselect count(*) as n from {{ ref('even_blocks') }}"
)
PROPERTIES = """
version: 2
sources:
  - name: fh
    schema: "_/eth_firehose@1.0.0"
    tables: [{name: blocks}]
models:
  - name: blocks
    columns:
      - name: block_num
        data_tests:
          - unique
          - not_null
          - accepted_values:
              arguments: {values: [0, 1, 2], quote: false}
              config: {severity: warn}
unit_tests:
  - name: counts_joined_blocks
    model: block_count
    given:
      - input: ref('blocks')
        rows: [{block_num: 1}, {block_num: 2}, {block_num: 3}]
      - input: ref('stg_blocks')
        rows: [{block_num: 2}, {block_num: 3}]
    expect:
      rows: [{n: 2}]
  - name: blocks_passes_rows_through
    model: blocks
    given:
      - input: ref('stg_blocks')
        rows: [{block_num: 7, hash: "0x{h}"}]
    expect:
      rows: [{block_num: 7, hash: "0x{h}"}]
""".replace("{h}", "ab" * 32)
SINGULAR = "select * from {{ ref('blocks') }} where block_num >= 5"
MACROS = """
{% macro select_from_query_model() %}
  {% do run_query("select * from " ~ ref('blocks')) %}
{% endmacro %}
"""


class TestRefsToQueryModels(EphemeralProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "stg_blocks.sql": STG,
            "blocks.sql": BLOCKS,
            "block_count.sql": BLOCK_COUNT,
            "even_blocks.sql": EVEN_BLOCKS,
            "even_count.sql": EVEN_COUNT,
            "properties.yml": PROPERTIES,
        }

    @pytest.fixture(scope="class")
    def tests(self):
        return {"blocks_below_five.sql": SINGULAR}

    @pytest.fixture(scope="class")
    def macros(self):
        return {"select_from_query_model.sql": MACROS}

    def test_build(self, project):
        results = run_dbt(["build"])
        by_name = results_by_name(results)
        assert statuses(results) == {
            "blocks": "success",
            "block_count": "success",
            "even_count": "success",
            "unique_blocks_block_num": "pass",
            "not_null_blocks_block_num": "pass",
            "accepted_values_blocks_block_num__False__0__1__2": "warn",
            "blocks_below_five": "pass",
            "counts_joined_blocks": "pass",
            "blocks_passes_rows_through": "pass",
        }, messages(results)
        assert by_name["blocks"].adapter_response["rows"] == 5
        assert by_name["accepted_values_blocks_block_num__False__0__1__2"].failures == 2
        count = by_name["block_count"].node.compiled_code
        assert count.count("__dbt__cte__stg_blocks as (") == 1, count
        assert count.index("__dbt__cte__stg_blocks as") < count.index("__dbt__cte__blocks as")
        # the query model keeps its own compiled SQL (with its CTE), not the inlined copy's state
        manifest = json.loads(
            (Path(project.project_root) / "target" / "manifest.json").read_text()
        )
        compiled = manifest["nodes"]["model.test.blocks"]["compiled_code"]
        assert compiled.lstrip().startswith("with __dbt__cte__stg_blocks as"), compiled
        assert manifest["nodes"]["model.test.blocks"]["config"]["materialized"] == "query"
        _, output = run_dbt_and_capture(["show", "-s", "block_count"])
        assert "| 5 |" in output  # blocks 0-4 joined with themselves

    def test_the_query_model_runs_after_being_inlined(self, project):
        # tests compile `blocks` as a CTE first; the run of `blocks` itself is unaffected
        run_dbt(["test", "-s", "blocks"])
        results = run_dbt(["run", "-s", "blocks", "even_count", "--threads", "1"])
        rows = {r.node.name: r.adapter_response["rows"] for r in results}
        assert rows == {"blocks": 5, "even_count": 1}

    def test_run_operation_cannot_ref_a_query_model(self, project):
        _, output = run_dbt_and_capture(
            ["run-operation", "select_from_query_model"], expect_pass=False
        )
        assert "calls ref('blocks'), a `query` model" in output
        assert "Use it from a model or a test" in output
