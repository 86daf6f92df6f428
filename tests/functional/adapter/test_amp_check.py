"""`dbt run-operation amp_check`: every selected model planned on Amp without running it; each
failure names the model and carries Amp's message; selection works like `-s` / `--exclude`."""

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture

from tests.functional.adapter.projects import EphemeralProject, sources_yml

TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
GOOD = "select block_num, hash from {{ source('fh', 'blocks') }}"
# a typo in a decoded event's field: fails only when something plans or runs it
TYPO = f"""
select evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}')['fro'] as sender
from {{{{ source('fh', 'logs') }}}}
"""
# plans fine, fails only when executed (a cast of every row): amp_check must not execute it
FAILS_AT_RUNTIME = """
{{ config(materialized='query') }}
select cast(concat('x', block_num) as bigint) as n from {{ source('fh', 'blocks') }}
"""
USES_TYPO = "{{ config(materialized='query') }}\nselect count(*) as n from {{ ref('typo') }}"
AS_VIEW = "{{ config(materialized='view') }}\nselect 1 as id"
# a dataset model: its SQL is planned like any other (registering it needs the Admin API)
AS_DATASET = (
    "{{ config(materialized='dataset') }}\n"
    "select block_num, hash from {{ source('fh', 'blocks') }}"
)
SOURCES = sources_yml("fh", "_/eth_firehose@1.0.0", "blocks", "logs")


class TestAmpCheck(EphemeralProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sources.yml": SOURCES,
            "good.sql": GOOD,
            "typo.sql": TYPO,
            "fails_at_runtime.sql": FAILS_AT_RUNTIME,
            "uses_typo.sql": USES_TYPO,
            "as_view.sql": AS_VIEW,
            "as_dataset.sql": AS_DATASET,
        }

    def test_every_model(self, project):
        _, output = run_dbt_and_capture(["run-operation", "amp_check"], expect_pass=False)
        assert "amp_check planned 6 models: 3 failed" in output, output
        assert "amp_check OK    model 'as_dataset' (models/as_dataset.sql): 2 columns" in output
        assert "amp_check OK    model 'good' (models/good.sql): 2 columns" in output
        assert "amp_check OK    model 'fails_at_runtime'" in output  # planned, not executed
        for name in ("typo", "uses_typo"):
            assert f"- model '{name}' (models/{name}.sql): " in output
        assert output.count("Field fro not found in struct") >= 2, output
        assert "- model 'as_view' (models/as_view.sql): " in output
        assert "Amp is read-only for clients" in output
        # what amp_check cannot see without running: the runtime error
        results = run_dbt(["run", "-s", "fails_at_runtime"], expect_pass=False)
        assert "Cannot cast string 'x0'" in results.results[0].message

    def test_selection(self, project):
        _, output = run_dbt_and_capture(
            [
                "run-operation",
                "amp_check",
                "--args",
                "{select: 'good typo uses_typo', exclude: typo}",
            ],
            expect_pass=False,
        )
        assert "amp_check planned 2 models: 1 failed" in output, output
        assert "model 'typo' (" not in output.replace("ref('typo')", "")
        _, output = run_dbt_and_capture(["run-operation", "amp_check", "--args", "{select: good}"])
        assert "amp_check planned 1 model: 0 failed" in output
