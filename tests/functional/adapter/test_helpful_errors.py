"""Common slips get a "did you mean": a ref() to a name that is no model/seed/snapshot (closest
models, dependency aliases and source tables), and a field a decoded event struct lacks (the
event's fields)."""

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture, write_file
from dbt_common.exceptions import CompilationError

from tests.functional.adapter.projects import EphemeralProject, sources_yml

TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
SOURCES = sources_yml("eth", "_/eth_firehose@1.0.0", "logs", "blocks")
STG = "select block_num from {{ source('eth', 'blocks') }}"
TYPO_FIELD = f"""
{{{{ config(materialized='query') }}}}
select {{{{ evm_hex("ev['fro']") }}}} as sender from (
    select evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') as ev
    from {{{{ source('eth', 'logs') }}}}
) decoded
"""


class TestHelpfulErrors(EphemeralProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {"sources.yml": SOURCES, "stg_erc20_transfers.sql": STG}

    @pytest.mark.parametrize(
        "sql,expected",
        [
            (
                "select * from {{ ref('stg_erc20_transfer') }}",
                "Did you mean ref('stg_erc20_transfers') (model)?",
            ),
            (
                "{{ config(dependencies={'eth': '_/eth_firehose@1.0.0'}) }}\n"
                "select * from {{ ref('ehh') }}.logs",
                "ref('eth') (dependency alias of this node: '_/eth_firehose@1.0.0')",
            ),
            ("select * from {{ ref('logs') }}", "source('eth', 'logs') (a source table)"),
        ],
        ids=["model", "alias", "source"],
    )
    def test_ref_to_an_unknown_name(self, project, sql, expected):
        write_file(sql, project.project_root, "models", "uses_unknown.sql")
        with pytest.raises(CompilationError) as exc:
            run_dbt(["parse"])
        message = str(exc.value)
        assert "which was not found" in message and expected in message, message

    def test_missing_struct_field_lists_the_fields(self, project):
        write_file(STG, project.project_root, "models", "uses_unknown.sql")
        write_file(TYPO_FIELD, project.project_root, "models", "typo_field.sql")
        results = run_dbt(["run", "-s", "typo_field"], expect_pass=False)
        message = results.results[0].message
        assert "Field fro not found in struct" in message
        assert f"have these fields: {TRANSFER}: from, to, value." in message, message
        assert "Did you mean 'from'?" in message
        _, output = run_dbt_and_capture(
            ["run-operation", "amp_check", "--args", "{select: typo_field}"], expect_pass=False
        )
        assert "Did you mean 'from'?" in output
