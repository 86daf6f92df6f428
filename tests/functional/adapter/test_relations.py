"""What dbt's Python API and packages (dbt_utils, audit helpers) ask of an adapter: get_relation,
load_relation and get_catalog_for_single_relation find Amp's dataset tables (planned, not
scanned) and nothing else; store_failures_as keeps dbt's own validation message."""

import pytest
from dbt.tests.util import get_connection, run_dbt, run_dbt_and_capture

from tests.functional.adapter.projects import EphemeralProject

FIREHOSE = "_/eth_firehose@1.0.0"
SOURCES = f"""
version: 2
sources:
  - name: fh
    schema: "{FIREHOSE}"
    tables: [{{name: blocks}}]
"""
MACROS = (
    """
{% macro show_loaded() %}
  {% set loaded = load_relation(source('fh', 'blocks')) %}
  {{ log('LOADED=' ~ loaded ~ ' TYPE=' ~ loaded.type, info=True) }}
  {% set missing = adapter.get_relation(database=none, schema='"""
    + FIREHOSE
    + """', identifier='nope') %}
  {{ log('MISSING=' ~ missing, info=True) }}
{% endmacro %}
"""
)
MODEL = "{{ config(materialized='query') }}\nselect block_num from {{ source('fh', 'blocks') }}"


class TestRelations(EphemeralProject):
    @pytest.fixture(scope="class")
    def models(self):
        return {"sources.yml": SOURCES, "blocks_model.sql": MODEL}

    @pytest.fixture(scope="class")
    def macros(self):
        return {"show_loaded.sql": MACROS}

    @pytest.fixture(scope="class")
    def tests(self):
        return {
            "invalid_store_as.sql": "{{ config(store_failures_as='error') }}\n"
            "select * from {{ source('fh', 'blocks') }} where block_num < 0",
            "stored_as_view.sql": "{{ config(store_failures_as='view') }}\n"
            "select * from {{ source('fh', 'blocks') }} where block_num < 0",
        }

    def test_get_relation_and_single_catalog(self, project):
        adapter = project.adapter
        with get_connection(adapter):
            blocks = adapter.get_relation(database="amp", schema=FIREHOSE, identifier="blocks")
            assert str(blocks) == f'"{FIREHOSE}".blocks' and blocks.is_table
            assert adapter.get_relation("amp", FIREHOSE, "nope") is None
            assert adapter.get_relation("amp", "_/no_such_dataset@1.0.0", "blocks") is None
            # a query model creates nothing on Amp
            assert adapter.get_relation("amp", project.test_schema, "blocks_model") is None
            catalog = adapter.get_catalog_for_single_relation(blocks)
            assert catalog.metadata.schema == FIREHOSE and catalog.metadata.name == "blocks"
            assert len(catalog.columns) == 24
            assert catalog.columns["block_num"].type == "BIGINT UNSIGNED"
            assert catalog.columns["block_num"].index == 2  # after _block_num
            missing = adapter.Relation.create(schema=FIREHOSE, identifier="nope")
            assert adapter.get_catalog_for_single_relation(missing) is None

    def test_unreachable_is_not_missing(self, project, monkeypatch):
        """A relation Amp cannot plan is missing (None); an Amp that cannot be reached is an error.
        (The connectivity fault is injected: the session's server is up.)"""
        from dbt.adapters.exceptions import FailedToConnectError

        adapter = project.adapter

        def unreachable(relation):
            raise FailedToConnectError("Could not reach Amp at grpc://127.0.0.1:1")

        monkeypatch.setattr(adapter, "get_columns_in_relation", unreachable)
        relation = adapter.Relation.create(schema=FIREHOSE, identifier="blocks")
        with pytest.raises(FailedToConnectError):
            adapter.get_relation("amp", FIREHOSE, "blocks")
        with pytest.raises(FailedToConnectError):
            adapter.get_catalog_for_single_relation(relation)

    def test_load_relation_in_a_macro(self, project):
        _, output = run_dbt_and_capture(["run-operation", "show_loaded"])
        assert f'LOADED="{FIREHOSE}".blocks TYPE=table' in output
        assert "MISSING=None" in output

    def test_store_failures_as(self, project):
        results = run_dbt(["test", "-s", "invalid_store_as", "stored_as_view"], expect_pass=False)
        messages = {r.node.name: r.message for r in results}
        assert (
            "'error' is not a valid value for `store_failures_as`" in messages["invalid_store_as"]
        )
        assert (
            "Accepted values are: ['ephemeral', 'table', 'view']" in messages["invalid_store_as"]
        )
        assert "cannot store failures" in messages["stored_as_view"]
        assert "Amp is read-only for clients" in messages["stored_as_view"]
