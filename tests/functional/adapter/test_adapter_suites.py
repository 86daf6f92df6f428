"""dbt-tests-adapter (1.20) suites that apply to a read-only server once adapted through their
fixtures: models become `query` (run over Flight) or `ephemeral` models instead of tables and views,
types are DataFusion's. Where a base class hard-codes a table (in-file `materialized='table'`, or
reading rows back from a relation), that is said next to the class."""

import json
from pathlib import Path

import pytest
from dbt.tests.adapter.aliases import fixtures as alias_fixtures
from dbt.tests.adapter.aliases.test_aliases import (
    BaseAliasErrors,
    BaseAliases,
    BaseSameAliasDifferentDatabases,
    BaseSameAliasDifferentSchemas,
)
from dbt.tests.adapter.constraints import fixtures as constraint_fixtures
from dbt.tests.adapter.constraints.test_constraints import BaseConstraintsColumnsEqual
from dbt.tests.adapter.dbt_debug.test_dbt_debug import (
    BaseDebugInvalidProjectPostgres,
    BaseDebugPostgres,
    BaseDebugProfileVariable,
)
from dbt.tests.adapter.dbt_show import fixtures as show_fixtures
from dbt.tests.adapter.hooks.test_model_hooks import BaseDuplicateHooksInConfigs
from dbt.tests.adapter.hooks.test_run_hooks import BaseAfterRunHooks
from dbt.tests.adapter.query_comment.test_query_comment import (
    BaseEmptyQueryComments,
    BaseMacroArgsQueryComments,
    BaseMacroInvalidQueryComments,
    BaseMacroQueryComments,
    BaseNullQueryComments,
    BaseQueryComments,
)
from dbt.tests.adapter.sample_mode import fixtures as sample_fixtures
from dbt.tests.adapter.sample_mode.test_sample_mode import BaseSampleModeTest
from dbt.tests.adapter.unit_testing.test_case_insensitivity import BaseUnitTestCaseInsensivity
from dbt.tests.adapter.unit_testing.test_invalid_input import BaseUnitTestInvalidInput
from dbt.tests.adapter.unit_testing.test_quoted_reserved_word_column_names import (
    BaseUnitTestQuotedReservedWordColumnNames,
)
from dbt.tests.adapter.unit_testing.test_types import BaseUnitTestingTypes
from dbt.tests.adapter.utils.test_validate_sql import BaseValidateSqlMethod
from dbt.tests.util import run_dbt

QUERY_MODELS = {"models": {"+materialized": "query"}}


def as_query(sql: str) -> str:
    """A base fixture's model SQL with its in-file table/view materialization made `query`."""
    for kind in ("table", "view"):
        for quote in ("'", '"'):
            for spacing in ("=", " = "):
                sql = sql.replace(
                    f"materialized{spacing}{quote}{kind}{quote}", "materialized='query'"
                )
    return sql


# --- query comments: the model (dbt's default view) runs as a query model ---------------------


class TestQueryCommentsAmp(BaseQueryComments):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"query-comment": "dbt\nrules!\n", **QUERY_MODELS}


class TestMacroQueryCommentsAmp(BaseMacroQueryComments):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"query-comment": "{{ query_header_no_args() }}", **QUERY_MODELS}


class TestMacroArgsQueryCommentsAmp(BaseMacroArgsQueryComments):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {
            "query-comment": "{{ return(ordered_to_json(query_header_args(target.name))) }}",
            **QUERY_MODELS,
        }


class TestMacroInvalidQueryCommentsAmp(BaseMacroInvalidQueryComments):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"query-comment": "{{ invalid_query_header() }}", **QUERY_MODELS}


class TestNullQueryCommentsAmp(BaseNullQueryComments):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"query-comment": None, **QUERY_MODELS}


class TestEmptyQueryCommentsAmp(BaseEmptyQueryComments):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"query-comment": "", **QUERY_MODELS}


# --- dbt debug --------------------------------------------------------------------------------


class TestDebugAmp(BaseDebugPostgres):
    pass


class TestDebugProfileVariableAmp(BaseDebugProfileVariable, BaseDebugPostgres):
    pass


class TestDebugInvalidProjectAmp(BaseDebugInvalidProjectPostgres):
    pass


# --- contracts: columns equal (on query models) ----------------------------------------------


class TestQueryConstraintsColumnsEqualAmp(BaseConstraintsColumnsEqual):
    """Column names, order and DataFusion data types on query models. The base's data-type cases
    write `constraint_fixtures.my_model_data_type_sql` (in-file materialized="table") from the
    test body; a fixture swaps that module attribute for its query-model version."""

    @pytest.fixture(autouse=True)
    def query_model_data_type_sql(self, monkeypatch):
        sql = as_query(constraint_fixtures.my_model_data_type_sql)
        monkeypatch.setattr(constraint_fixtures, "my_model_data_type_sql", sql)

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "my_model_wrong_order.sql": as_query(constraint_fixtures.my_model_wrong_order_sql),
            "my_model_wrong_name.sql": as_query(constraint_fixtures.my_model_wrong_name_sql),
            "constraints_schema.yml": constraint_fixtures.model_schema_yml,
        }

    @pytest.fixture
    def string_type(self):
        return "VARCHAR"

    @pytest.fixture
    def int_type(self):
        return "BIGINT"

    @pytest.fixture
    def data_types(self, schema_int_type, int_type, string_type):
        # sql_column_value, schema_data_type, error_data_type (as dbt-amp names Arrow types)
        return [
            ["1", schema_int_type, int_type],
            ["'1'", string_type, string_type],
            ["true", "boolean", "BOOLEAN"],
            ["cast('2013-11-03 00:00:00' as timestamp)", "timestamp", "TIMESTAMP"],
            [
                "arrow_cast(now(), 'Timestamp(Nanosecond, Some(\"+00:00\"))')",
                'Timestamp(Nanosecond, Some("+00:00"))',
                'Timestamp(Nanosecond, Some("+00:00"))',
            ],
            ["make_array('a', 'b', 'c')", "List(Utf8)", "List(Utf8)"],
            ["cast(1.5 as decimal(10, 2))", "decimal(10, 2)", "DECIMAL(10, 2)"],
            [
                "evm_encode_hex('0x" + "ab" * 20 + "')",
                "FixedSizeBinary(20)",
                "FixedSizeBinary(20)",
            ],
        ]


# --- hooks ------------------------------------------------------------------------------------


class TestDuplicateHooksInConfigsAmp(BaseDuplicateHooksInConfigs):
    pass


class TestAfterRunHooksAmp(BaseAfterRunHooks):
    """on-run-start queries a model that does not exist as a relation: a database error."""

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"on-run-start": "- {{ export_table_check() }}", **QUERY_MODELS}


# --- sample mode on an ephemeral input --------------------------------------------------------


class TestSampleModeAmp(BaseSampleModeTest):
    """The input is ephemeral (inlined as a CTE, sampled by its event_time), the model that reads
    it a query model; the row counts come from its run's adapter_response (nothing to read back)."""

    @pytest.fixture(scope="class")
    def input_model_sql(self) -> str:
        # DataFusion does not parse the `-0` zone offset; `+00:00` is the same instant
        sql = sample_fixtures.input_model_sql.replace(":00-0'", ":00+00:00'")
        return sql.replace("materialized='table'", "materialized='ephemeral'")

    @pytest.fixture(scope="class")
    def model_that_samples_input_sql(self) -> str:
        return as_query(sample_fixtures.model_that_samples_input_sql)

    def assert_row_count(self, project, relation_name: str, expected_row_count: int):
        run_results = json.loads(
            (Path(project.project_root) / "target" / "run_results.json").read_text()
        )
        rows = {
            r["unique_id"].split(".")[-1]: r["adapter_response"].get("rows")
            for r in run_results["results"]
        }
        assert rows[relation_name] == expected_row_count, rows


class TestQueryModelSqlHeaderAmp:
    """dbt-tests-adapter's sql_header model (a `with` in set_sql_header) run as a query model:
    the header goes in front of the query, as for dbt's tables."""

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return QUERY_MODELS

    @pytest.fixture(scope="class")
    def models(self):
        return {"sql_header.sql": show_fixtures.models__sql_header}

    def test_sql_header(self, project):
        results = run_dbt(["run"])
        assert results.results[0].adapter_response["rows"] == 1


# --- validate_sql: planned, not executed -----------------------------------------------------


class TestValidateSqlAmp(BaseValidateSqlMethod):
    pass


# --- aliases ----------------------------------------------------------------------------------


class TestAliasesAmp(BaseAliases):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        config = BaseAliases.project_config_update.__wrapped__(self)
        config["models"]["test"]["+materialized"] = "query"
        return config

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "schema.yml": alias_fixtures.MODELS__SCHEMA_YML,
            "foo_alias.sql": as_query(alias_fixtures.MODELS__FOO_ALIAS_SQL),
            "alias_in_project.sql": alias_fixtures.MODELS__ALIAS_IN_PROJECT_SQL,
            "alias_in_project_with_override.sql": (
                alias_fixtures.MODELS__ALIAS_IN_PROJECT_WITH_OVERRIDE_SQL
            ),
            "ref_foo_alias.sql": as_query(alias_fixtures.MODELS__REF_FOO_ALIAS_SQL),
        }


class TestAliasErrorsAmp(BaseAliasErrors):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"config-version": 2, "macro-paths": ["macros"], **QUERY_MODELS}


class TestSameAliasDifferentSchemasAmp(BaseSameAliasDifferentSchemas):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"config-version": 2, "macro-paths": ["macros"], **QUERY_MODELS}


class TestSameAliasDifferentDatabasesAmp(BaseSameAliasDifferentDatabases):
    @pytest.fixture(scope="class")
    def project_config_update(self, unique_schema):
        config = BaseSameAliasDifferentDatabases.project_config_update.__wrapped__(
            self, unique_schema
        )
        config["models"]["test"]["+materialized"] = "query"
        return config


# --- unit testing: the upstream model is a query model, inlined as a CTE ---------------------


class TestUnitTestCaseInsensitivityAmp(BaseUnitTestCaseInsensivity):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return QUERY_MODELS


class TestUnitTestInvalidInputAmp(BaseUnitTestInvalidInput):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return QUERY_MODELS


class TestUnitTestQuotedReservedWordColumnNamesAmp(BaseUnitTestQuotedReservedWordColumnNames):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return QUERY_MODELS


class TestUnitTestingTypesAmp(BaseUnitTestingTypes):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return QUERY_MODELS

    @pytest.fixture
    def data_types(self):
        # sql_value, yaml_value: DataFusion's spellings, and Amp's binary and uint256 columns
        return [
            ["1", "1"],
            ["'1'", "1"],
            ["true", "true"],
            ["DATE '2020-01-02'", "2020-01-02"],
            ["TIMESTAMP '2013-11-03 00:00:00'", "2013-11-03 00:00:00"],
            ["'1'::numeric", "1"],
            ["cast('1.5' as decimal(10, 2))", "1.5"],
            # quoted: unquoted 0x… is a YAML integer
            ["evm_encode_hex('0x" + "ab" * 20 + "')", "'0x" + "ab" * 20 + "'"],
            ["cast('" + "9" * 76 + "' as decimal(76, 0))", "'" + "9" * 76 + "'"],
        ]
