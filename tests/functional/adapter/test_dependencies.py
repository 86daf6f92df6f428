"""`dependencies={'eth': '_/eth_firehose@1.0.0'}` + `{{ ref('eth') }}.logs`, next to ordinary refs
and dbt sources, with dbt's static parser on (the default) and off."""

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture
from dbt_common.exceptions import CompilationError

IN_FILE = """
{{ config(dependencies={'eth': '_/eth_firehose@1.0.0'}) }}
select block_num, log_index from {{ ref('eth') }}.logs
"""
# uses a macro call, so the static parser cannot read it: the Jinja path
IN_FILE_JINJA = """
{{ config(dependencies={'rpc': '_/eth_rpc@1.0.0'}) }}
{% set tbl = 'blocks' %}
select block_num from {{ ref('rpc') }}.{{ tbl }}
"""
FROM_PROJECT = "select block_num, hash from {{ ref('chain') }}.blocks"
SOURCE_STYLE = "select block_num from {{ source('eth_firehose', 'blocks') }}"
COMBINED = """
{{ config(materialized='query', dependencies={'eth': '_/eth_firehose@1.0.0'}) }}
select l.block_num, count(*) as logs
from {{ ref('stg_logs') }} l
join {{ ref('stg_blocks') }} b on b.block_num = l.block_num
join {{ ref('stg_rpc') }} r on r.block_num = l.block_num
join {{ ref('stg_source') }} s on s.block_num = l.block_num
join {{ ref('eth') }}.blocks e on e.block_num = l.block_num
group by l.block_num
"""
SOURCES = """
version: 2
sources:
  - name: eth_firehose
    schema: "_/eth_firehose@1.0.0"
    tables: [{name: blocks}]
"""


class DependenciesBase:
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {
            "models": {
                "test": {
                    "+materialized": "ephemeral",
                    "from_project": {"+dependencies": {"chain": "_/eth_firehose@1.0.0"}},
                }
            }
        }

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "stg_logs.sql": IN_FILE,
            "stg_rpc.sql": IN_FILE_JINJA,
            "from_project": {"stg_blocks.sql": FROM_PROJECT},
            "stg_source.sql": SOURCE_STYLE,
            "sources.yml": SOURCES,
            "combined.sql": COMBINED,
        }

    def test_dependencies(self, project):
        results = run_dbt(["run"])
        assert results.results[0].adapter_response["rows"] > 0
        sql = results.results[0].node.compiled_code
        assert '"_/eth_firehose@1.0.0".logs' in sql
        assert '"_/eth_rpc@1.0.0".blocks' in sql
        assert '"_/eth_firehose@1.0.0".blocks e' in sql
        manifest = run_dbt(["parse"])
        nodes = manifest.nodes
        deps = nodes["model.test.combined"].depends_on.nodes
        assert sorted(deps) == [
            "model.test.stg_blocks",
            "model.test.stg_logs",
            "model.test.stg_rpc",
            "model.test.stg_source",
        ]
        assert nodes["model.test.stg_logs"].depends_on.nodes == []
        show = run_dbt(["show", "-s", "stg_blocks", "--limit", "2"])
        assert str(show.results[0].agate_table[0][1]).startswith("0x")


class TestDependenciesStaticParser(DependenciesBase):
    pass


class TestDependenciesNoStaticParser(DependenciesBase):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        config = DependenciesBase.project_config_update.__wrapped__(self)
        config["flags"] = {"static_parser": False}
        return config


BAD_VALUE = (
    "{{ config(dependencies={'eth': 'eth_firehose'}) }}\nselect * from {{ ref('eth') }}.logs"
)
BAD_ALIAS = "{{ config(dependencies={'self': '_/eth_firehose@1.0.0'}) }}\nselect 1 as x"
BAD_TYPE = "{{ config(dependencies=['_/eth_firehose@1.0.0']) }}\nselect 1 as x"


@pytest.mark.parametrize(
    "sql,expected",
    [
        (BAD_VALUE, "'eth_firehose' is not an Amp dataset reference"),
        (BAD_ALIAS, "alias 'self' is reserved"),
        (BAD_TYPE, "expected a mapping of alias to dataset reference"),
    ],
    ids=["bad-reference", "reserved-alias", "not-a-mapping"],
)
class TestBadDependencies:
    @pytest.fixture(scope="class")
    def models(self, request):
        return {}

    def test_bad_dependencies(self, project, sql, expected):
        from dbt.tests.util import write_file

        write_file(sql, project.project_root, "models", "bad.sql")
        with pytest.raises(CompilationError) as exc:
            run_dbt_and_capture(["parse"])
        message = str(exc.value)
        assert expected in message and "bad" in message and "dependencies" in message
