"""Ephemeral models as CTEs at any depth, tests on them and on sources, show, compile, ls,
query models and source freshness: all over Flight SQL against amp_local."""

import json
import os

import pytest
from dbt.tests.util import run_dbt

SOURCES_YML = """
version: 2
sources:
  - name: eth
    schema: "_/eth_firehose@1.0.0"
    tables:
      - name: blocks
        loaded_at_field: timestamp
        freshness:
          warn_after: {count: 100000, period: day}
      - name: logs
models:
  - name: base_numbers
    columns:
      - name: n
        data_tests: [not_null, unique]
      - name: label
        data_tests:
          - accepted_values:
              arguments:
                values: ['one', 'two', 'three']
  - name: stg_blocks
    columns:
      - name: block_num
        data_tests: [not_null, unique]
"""

BASE_NUMBERS = """
select 1 as n, 'one' as label
union all select 2 as n, 'two' as label
union all select 3 as n, 'three' as label
"""
DOUBLED = "select n, n * 2 as doubled, label from {{ ref('base_numbers') }}"
TRIPLED = "select n, doubled * 3 / 2 as tripled from {{ ref('doubled') }}"
FAN_IN = """
select d.n, d.doubled, t.tripled, b.label
from {{ ref('doubled') }} d
join {{ ref('tripled') }} t on t.n = d.n
join {{ ref('base_numbers') }} b on b.n = d.n
"""
STG_BLOCKS = "select block_num, timestamp from {{ source('eth', 'blocks') }}"
BLOCK_COUNT = """
{{ config(materialized='query') }}
select count(*) as blocks, max(block_num) as head from {{ ref('stg_blocks') }}
"""
FAN_IN_QUERY = "{{ config(materialized='query') }}\nselect * from {{ ref('fan_in') }}"
SINGULAR_TEST = "select * from {{ ref('fan_in') }} where tripled <> n * 3"


class TestEphemeralOverFlight:
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"test": {"+materialized": "ephemeral"}}}

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sources.yml": SOURCES_YML,
            "base_numbers.sql": BASE_NUMBERS,
            "doubled.sql": DOUBLED,
            "tripled.sql": TRIPLED,
            "fan_in.sql": FAN_IN,
            "stg_blocks.sql": STG_BLOCKS,
            "block_count.sql": BLOCK_COUNT,
            "fan_in_query.sql": FAN_IN_QUERY,
        }

    @pytest.fixture(scope="class")
    def tests(self):
        return {"fan_in_consistent.sql": SINGULAR_TEST}

    def test_build_show_compile_ls(self, project):
        results = run_dbt(["build"])
        by_name = {r.node.name: r for r in results}
        # two query models ran, five data tests + one singular test passed
        assert by_name["fan_in_query"].adapter_response["rows"] == 3
        assert by_name["block_count"].adapter_response["rows"] == 1
        assert all(r.status in ("success", "pass") for r in results)
        response = by_name["block_count"].adapter_response
        assert response["bytes"] > 0 and response["duration_seconds"] >= 0
        ranges = response["block_ranges"]
        assert ranges and ranges[0]["numbers"]["start"] == 0 and ranges[0]["network"]

        run_results = json.load(open(os.path.join("target", "run_results.json")))
        stored = {r["unique_id"]: r for r in run_results["results"]}
        assert stored["model.test.block_count"]["adapter_response"]["block_ranges"] == ranges

        # CTEs nest three levels deep in the compiled query model
        compiled = by_name["fan_in_query"].node.compiled_code
        for cte in ("__dbt__cte__base_numbers", "__dbt__cte__doubled", "__dbt__cte__tripled"):
            assert cte in compiled

        show = run_dbt(["show", "-s", "fan_in", "--limit", "2"])
        assert len(show.results[0].agate_table) == 2
        show = run_dbt(["show", "--inline", "select * from {{ ref('tripled') }} order by n"])
        assert [row[1] for row in show.results[0].agate_table] == [3, 6, 9]
        # a LIMIT in the query and --limit together (DataFusion: wrapped as a subquery)
        show = run_dbt(["show", "--limit", "1", "--inline", "select 1 as x limit 1"])
        assert len(show.results[0].agate_table) == 1
        show = run_dbt(["show", "--limit", "-1", "--inline", "select * from {{ ref('fan_in') }}"])
        assert len(show.results[0].agate_table) == 3
        # binary columns come back as 0x-hex text
        show = run_dbt(["show", "--inline", "select hash from {{ source('eth', 'blocks') }}"])
        assert str(show.results[0].agate_table[0][0]).startswith("0x")

        results = run_dbt(["compile", "-s", "fan_in_query"])
        assert "__dbt__cte__doubled" in results.results[0].node.compiled_code
        listed = run_dbt(["ls", "--resource-type", "model", "--output", "name"])
        assert set(listed) >= {"fan_in", "block_count", "base_numbers"}

        results = run_dbt(["source", "freshness"])
        assert results.results[0].status == "pass"
