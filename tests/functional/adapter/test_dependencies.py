"""`dependencies={'eth': '_/eth_firehose@1.0.0'}` + `{{ ref('eth') }}.logs`, next to ordinary refs
and dbt sources, with dbt's static parser on (the default) and off: in-file config, `+dependencies`
in dbt_project.yml and `config:` in a properties YAML; unit tests on such models; `--empty`
(`{{ ref('eth').logs }}` is limited, `{{ ref('eth') }}.logs` is a clear error); aliases that
shadow a model and `ref('pkg', alias)` are compile errors."""

import subprocess
import sys

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture, write_file
from dbt_common.exceptions import CompilationError, DbtRuntimeError

from dbt.adapters.amp.dbt_hooks import supported_dbt_core
from tests.functional.adapter.projects import sources_yml

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
# unit-test targets: one per way of declaring dependencies, and one with a mocked ordinary ref
UT_IN_FILE = """
{{ config(dependencies={'eth': '_/eth_firehose@1.0.0'}) }}
select min(block_num) as first_block from {{ ref('eth') }}.blocks
"""
UT_FROM_PROJECT = "select min(block_num) as first_block from {{ ref('chain').blocks }}"
UT_FROM_YAML = "select min(block_num) as first_block from {{ ref('fire') }}.blocks"
UT_MIXED = """
{{ config(dependencies={'eth': '_/eth_firehose@1.0.0'}) }}
select count(*) as n
from {{ ref('eth').blocks }} b
join {{ ref('stg_source') }} s on s.block_num = b.block_num
"""
# `{{ ref('eth').logs }}`: the form that --empty limits
ATTR_FORM = """
{{ config(materialized='query', dependencies={'eth': '_/eth_firehose@1.0.0'}) }}
select l.block_num from {{ ref('eth').logs }} l where l.block_num < 50
"""
PROPERTIES = """
version: 2
models:
  - name: ut_from_yaml
    config:
      dependencies: {fire: '_/eth_firehose@1.0.0'}
unit_tests:
  - name: ut_in_file_test
    model: ut_in_file
    given: []
    expect: {rows: [{first_block: 0}]}
  - name: ut_from_project_test
    model: ut_from_project
    given: []
    expect: {rows: [{first_block: 0}]}
  - name: ut_from_yaml_test
    model: ut_from_yaml
    given: []
    expect: {rows: [{first_block: 0}]}
  - name: ut_mixed_test
    model: ut_mixed
    given:
      - input: ref('stg_source')
        rows: [{block_num: 3}, {block_num: 4}, {block_num: 99999}]
    expect: {rows: [{n: 2}]}
"""
SOURCES = sources_yml("eth_firehose", "_/eth_firehose@1.0.0", "blocks")


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
            "from_project": {
                "stg_blocks.sql": FROM_PROJECT,
                "ut_from_project.sql": UT_FROM_PROJECT,
            },
            "stg_source.sql": SOURCE_STYLE,
            "sources.yml": SOURCES,
            "combined.sql": COMBINED,
            "ut_in_file.sql": UT_IN_FILE,
            "ut_from_yaml.sql": UT_FROM_YAML,
            "ut_mixed.sql": UT_MIXED,
            "attr_form.sql": ATTR_FORM,
            "properties.yml": PROPERTIES,
        }

    def test_dependencies(self, project):
        results = run_dbt(["run"])
        by_name = {r.node.name: r for r in results.results}
        assert by_name["combined"].adapter_response["rows"] > 0
        assert by_name["attr_form"].adapter_response["rows"] > 0
        sql = by_name["combined"].node.compiled_code
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
        assert nodes["model.test.ut_from_yaml"].depends_on.nodes == []
        show = run_dbt(["show", "-s", "stg_blocks", "--limit", "2"])
        assert str(show.results[0].agate_table[0][1]).startswith("0x")

    def test_unit_tests_resolve_the_tested_models_aliases(self, project):
        results = run_dbt(["test", "--select", "test_type:unit"])
        assert sorted(r.node.name for r in results) == [
            "ut_from_project_test",
            "ut_from_yaml_test",
            "ut_in_file_test",
            "ut_mixed_test",
        ]

    def test_empty(self, project):
        # `{{ ref('eth').logs }}` is limited like any ref under --empty
        results = run_dbt(["run", "--empty", "-s", "attr_form"])
        assert results.results[0].adapter_response["rows"] == 0
        assert "where false limit 0" in results.results[0].node.compiled_code
        # `{{ ref('eth') }}.blocks` cannot be: a compile error instead of a full scan
        results, output = run_dbt_and_capture(
            ["run", "--empty", "-s", "combined"], expect_pass=False
        )
        message = results.results[0].message
        assert "cannot be limited under --empty" in message
        assert "{{ ref('eth').<table> }}" in message and "dbt source" in message


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
# the alias `other` has the name of a model: ref('other') would silently mean the dataset
SHADOWS = (
    "{{ config(dependencies={'other': '_/eth_firehose@1.0.0'}) }}\n"
    "select * from {{ ref('other') }}.logs"
)
# an alias takes one argument
WITH_PACKAGE = (
    "{{ config(dependencies={'eth': '_/eth_firehose@1.0.0'}) }}\n"
    "select * from {{ ref('test', 'eth') }}.logs"
)
OTHER = "{{ config(materialized='ephemeral') }}\nselect 1 as x"


@pytest.mark.parametrize(
    "sql,expected",
    [
        (BAD_VALUE, ["'eth_firehose' is not an Amp dataset reference", "dependencies"]),
        (BAD_ALIAS, ["alias 'self' is reserved", "dependencies"]),
        (BAD_TYPE, ["expected a mapping of alias to dataset reference", "dependencies"]),
        (
            SHADOWS,
            [
                "declares the dependency alias 'other' ('_/eth_firehose@1.0.0')",
                "model 'other' (model.test.other) has the same name",
                "Rename the alias in `dependencies`",
            ],
        ),
        (
            WITH_PACKAGE,
            [
                "calls ref('test', 'eth'), but 'eth' is a dependency alias",
                "an alias takes exactly one argument, `{{ ref('eth') }}`",
            ],
        ),
    ],
    ids=["bad-reference", "reserved-alias", "not-a-mapping", "shadows-a-model", "with-package"],
)
class TestBadDependencies:
    @pytest.fixture(scope="class")
    def models(self, request):
        return {"other.sql": OTHER}

    def test_bad_dependencies(self, project, sql, expected):
        write_file(sql, project.project_root, "models", "bad.sql")
        with pytest.raises(CompilationError) as exc:
            run_dbt_and_capture(["parse"])
        message = str(exc.value)
        assert "model 'bad' (models/bad.sql)" in message, message
        for text in expected:
            assert text in message, message


class TestShadowingFoundAtCompileTime:
    """Partial parsing does not re-process a model that did not change, so the alias that a new
    model shadows is caught when the first model is compiled."""

    @pytest.fixture(scope="class")
    def models(self):
        return {"bad.sql": SHADOWS}

    def test_shadowing_at_compile_time(self, project):
        run_dbt(["parse"])
        write_file(OTHER, project.project_root, "models", "other.sql")
        with pytest.raises(DbtRuntimeError) as exc:
            run_dbt(["compile", "-s", "bad"])
        assert "declares the dependency alias 'other'" in str(exc.value)
        assert "Rename the alias" in str(exc.value) and "in macro ref" in str(exc.value)


# dbt in a fresh process whose dbt-core has no `_process_refs` (as a future dbt-core might)
WITHOUT_PROCESS_REFS = (
    "import sys, dbt.parser.manifest as m; del m._process_refs; "
    "from dbt.cli.main import cli; sys.exit(cli())"
)


class TestParserHookMissing:
    @pytest.fixture(scope="class")
    def models(self):
        return {"uses_alias.sql": IN_FILE}

    def test_stops_at_once_naming_the_dbt_core_version(self, project):
        dirs = ["--project-dir", str(project.project_root), "--profiles-dir", project.profiles_dir]
        done = subprocess.run(
            [sys.executable, "-c", WITHOUT_PROCESS_REFS, "compile", *dirs],
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 2, output
        assert "dbt-amp cannot hook into dbt-core 1.11" in output, output
        assert "dbt.parser.manifest._process_refs is missing" in output
        assert f"pip install '{supported_dbt_core()}'" in output
        assert "named 'eth' which was not found" not in output and "Traceback" not in output
        assert "Found 1 model" not in output  # stopped before parsing
