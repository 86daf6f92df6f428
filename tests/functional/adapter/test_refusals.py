"""Every materialization that would create something on Amp is refused with one clear message."""

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture
from dbt_common.exceptions import DbtRuntimeError

READ_ONLY = "Amp is read-only for clients"


def _failed_message(args):
    results, output = run_dbt_and_capture(args, expect_pass=False)
    return " ".join(r.message or "" for r in results) + output


class TestRefusals:
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "as_view.sql": "{{ config(materialized='view') }}\nselect 1 as id",
            "as_table.sql": "{{ config(materialized='table') }}\nselect 1 as id",
            "as_incremental.sql": "{{ config(materialized='incremental') }}\nselect 1 as id",
            "as_mv.sql": "{{ config(materialized='materialized_view') }}\nselect 1 as id",
            "as_python.py": "def model(dbt, session):\n    return None\n",
            "unconfigured.sql": "select 1 as id",
            "refs_view.sql": "{{ config(materialized='query') }}\n"
            "select * from {{ ref('unconfigured') }}",
            "eph.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id",
            "schema.yml": "version: 2\nmodels:\n  - name: eph\n    columns:\n"
            "      - name: id\n        data_tests: [not_null]\n",
        }

    @pytest.fixture(scope="class")
    def seeds(self):
        return {"some_seed.csv": "id\n1\n"}

    @pytest.fixture(scope="class")
    def snapshots(self):
        return {
            "snap.sql": "{% snapshot snap %}{{ config(unique_key='id', strategy='check', "
            "check_cols='all', target_schema=schema) }}select 1 as id{% endsnapshot %}"
        }

    @pytest.mark.parametrize(
        "model,kind",
        [
            ("as_view", "view"),
            ("as_table", "table"),
            ("as_incremental", "incremental"),
            ("as_mv", "materialized_view"),
        ],
    )
    def test_model_refusals(self, project, model, kind):
        message = _failed_message(["run", "-s", model])
        assert f"model '{model}'" in message
        assert f"materialized='{kind}'" in message and READ_ONLY in message
        assert "materialized='ephemeral'" in message and "'query'" in message

    def test_python_model(self, project):
        message = _failed_message(["run", "-s", "as_python"])
        assert "model 'as_python'" in message and "Python models" in message
        assert READ_ONLY in message
        assert ". Instead, use materialized='ephemeral'" in message

    def test_default_view_shows_project_line(self, project):
        message = _failed_message(["run", "-s", "unconfigured"])
        assert "model 'unconfigured'" in message and "default 'view'" in message
        assert "models: {test: {+materialized: ephemeral}}" in message

    def test_seed_and_snapshot(self, project):
        message = _failed_message(["seed"])
        assert "seed 'some_seed'" in message and READ_ONLY in message
        message = _failed_message(["snapshot"])
        assert "snapshot 'snap'" in message and READ_ONLY in message

    def test_store_failures(self, project):
        message = _failed_message(["test", "-s", "eph", "--store-failures"])
        assert "cannot store failures" in message and READ_ONLY in message
        run_dbt(["test", "-s", "eph"])  # without the flag the same test passes

    def test_ref_to_an_unbuildable_model(self, project):
        with pytest.raises(DbtRuntimeError) as exc:
            run_dbt(["compile", "-s", "refs_view"])
        output = str(exc.value)
        assert "refs 'unconfigured', which is materialized='view' (dbt's default)" in output
        assert "models: {test: {+materialized: ephemeral}}" in output
