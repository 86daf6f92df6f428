"""Amp's big decimals (DECIMAL(76, 0) sums of uint256 amounts, 37-digit DECIMAL(38, 0)) reach every
agate table exactly: `dbt show` (text and JSON), `run_query` in a macro, data-test results and
unit-test diffs. agate's Number type printed them through babel at 28 digits and crashed with
`decimal.InvalidOperation`, and wrote JSON floats."""

import json
from decimal import Decimal

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture

from tests.functional.adapter.projects import EphemeralProject

MAX_D76 = "9" * 76  # the largest DECIMAL(76, 0): a uint256 sum that still fits
D38 = "1234567890123456789012345678901234567"  # 37 digits
TINY = "0.000000100000000000"  # DECIMAL(38, 18) in fixed-point, not 1.00000000000E-7

AMOUNTS = f"""
select cast('{MAX_D76}' as decimal(76, 0)) as big, cast('{D38}' as decimal(38, 0)) as d38,
       cast('1.5' as decimal(10, 2)) as small, cast('0.0000001' as decimal(38, 18)) as tiny,
       cast('-{MAX_D76}' as decimal(76, 0)) as negative
"""
# one raw amount per row; the mart sums them as DECIMAL(76, 0)
RAW = "select cast('1' as decimal(76, 0)) as amount"
TOTAL = "select sum(amount) as total from {{ ref('raw_amounts') }}"
# values past int64 are quoted: dbt stores YAML integers in msgpack, which stops at 64 bits
UNIT_TESTS = f"""
unit_tests:
  - name: total_exact
    model: total
    given:
      - input: ref('raw_amounts')
        rows:
          - {{amount: "{D38}"}}
          - {{amount: 1}}
    expect:
      rows:
        - {{total: "{int(D38) + 1}"}}
  - name: total_wrong
    model: total
    given:
      - input: ref('raw_amounts')
        rows:
          - {{amount: "{D38}"}}
    expect:
      rows:
        - {{total: "{MAX_D76}"}}
"""
# a data test whose failing row carries a 76-digit decimal
BIG_ROWS_TEST = "select * from {{ ref('amounts') }} where big > 0"
MACROS = """
{% macro show_big() %}
  {% set table = run_query("select cast('" ~ ('9' * 76) ~ "' as decimal(76, 0)) as v") %}
  {% set value = table.columns[0].values()[0] %}
  {{ log('BIG=' ~ value ~ ' PLUS_ONE=' ~ ((value | int) + 1), info=True) }}
{% endmacro %}
"""


class TestBigDecimals(EphemeralProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "amounts.sql": AMOUNTS,
            "raw_amounts.sql": RAW,
            "total.sql": TOTAL,
            "unit_tests.yml": UNIT_TESTS,
        }

    @pytest.fixture(scope="class")
    def tests(self):
        return {"big_rows.sql": BIG_ROWS_TEST}

    @pytest.fixture(scope="class")
    def macros(self):
        return {"show_big.sql": MACROS}

    def test_show_text_and_json(self, project):
        results, output = run_dbt_and_capture(["show", "-s", "amounts"])
        row = results.results[0].agate_table.rows[0]
        assert row["big"] == Decimal(MAX_D76) and row["negative"] == Decimal("-" + MAX_D76)
        assert row["d38"] == Decimal(D38) and str(row["tiny"]) == TINY
        assert "big |" in output and "1.50" in output
        _, output = run_dbt_and_capture(["show", "-s", "amounts", "--output", "json"])
        shown = json.loads(output[output.index("{") : output.rindex("}") + 1])["show"][0]
        assert shown == {
            "big": int(MAX_D76),
            "d38": int(D38),
            "small": 1.5,
            "tiny": TINY,
            "negative": -int(MAX_D76),
        }

    def test_run_query_in_a_macro(self, project):
        _, output = run_dbt_and_capture(["run-operation", "show_big"])
        assert f"BIG={MAX_D76} PLUS_ONE=1{'0' * 76}" in output

    def test_data_test_and_unit_test_diffs(self, project):
        results = run_dbt(["test"], expect_pass=False)
        by_name = {r.node.name: r for r in results}
        assert str(by_name["big_rows"].status) == "fail" and by_name["big_rows"].failures == 1
        assert str(by_name["total_exact"].status) == "pass", by_name["total_exact"].message
        wrong = by_name["total_wrong"]
        assert str(wrong.status) == "fail"
        assert D38 in wrong.message and MAX_D76 in wrong.message, wrong.message
