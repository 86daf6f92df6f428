"""Many query models on four threads, repeated: no driver crash, every result correct."""

import pytest
from dbt.tests.util import run_dbt

N_MODELS = 24
STG = "select block_num, gas_used from {{ source('eth', 'blocks') }}"
SOURCES = 'version: 2\nsources:\n  - name: eth\n    schema: "_/eth_rpc@1.0.0"\n    tables: [{name: blocks}]\n'


def query_model(i: int) -> str:
    return (
        "{{ config(materialized='query') }}\n"
        f"select count(*) as n from {{{{ ref('stg') }}}} where block_num % {N_MODELS} = {i}"
    )


class TestThreads:
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"test": {"+materialized": "ephemeral"}}}

    @pytest.fixture(scope="class")
    def models(self):
        models = {"stg.sql": STG, "sources.yml": SOURCES}
        models.update({f"q{i:02d}.sql": query_model(i) for i in range(N_MODELS)})
        return models

    def test_four_threads_repeated(self, project):
        for _ in range(3):
            results = run_dbt(["run", "--threads", "4"])
            assert len(results) == N_MODELS
            assert all(r.status == "success" for r in results)
            assert all(r.adapter_response["rows"] == 1 for r in results)
        shows = run_dbt(["show", "--threads", "4", "-s", "q00", "q01", "q02", "q03"])
        assert len(shows.results) == 4
