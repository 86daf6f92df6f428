"""dbt-tests-adapter's `dbt show` suites, with the seed turned into an ephemeral model (Amp is
read-only: a seed cannot be loaded, so the same rows come from a `select ... union all` model)."""

import pytest
from dbt.tests.adapter.dbt_show import fixtures
from dbt.tests.adapter.dbt_show.test_dbt_show import BaseShowLimit, BaseShowSqlHeader
from dbt.tests.util import run_dbt

from tests.functional.adapter.ephemeral_batch import seed_csv_to_sql
from tests.functional.adapter.projects import EPHEMERAL_DEFAULT


class TestShowLimitAmp(BaseShowLimit):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return EPHEMERAL_DEFAULT

    @pytest.fixture(scope="class")
    def seeds(self):
        return {}

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sample_seed.sql": seed_csv_to_sql(fixtures.seeds__sample_seed),
            "sample_model.sql": fixtures.models__sample_model,
            "ephemeral_model.sql": fixtures.models__ephemeral_model,
        }


class TestShowSqlHeaderAmp(BaseShowSqlHeader):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return EPHEMERAL_DEFAULT


class TestShowLimitAfterTrailingComment:
    """`dbt show --inline "... limit 5 -- note" --limit 2`: the query's own LIMIT is found behind
    the comment, so the query is wrapped instead of getting a second LIMIT."""

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return EPHEMERAL_DEFAULT

    def test_show_limit_after_comment(self, project):
        sql = (
            "select '--x' as a, block_num from \"_/eth_firehose@1.0.0\".blocks "
            "order by block_num limit 5 -- note /* more */"
        )
        results = run_dbt(["show", "--inline", sql, "--limit", "2"])
        table = results.results[0].agate_table
        assert [tuple(row) for row in table] == [("--x", 0), ("--x", 1)]
