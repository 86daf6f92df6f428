"""The dataset materialization's pure parts: configs, wait targets, the progress line."""

from __future__ import annotations

import pytest
from dbt_common.exceptions import CompilationError

from dbt.adapters.amp.dataset_build import DatasetSpec, _absolute_end, _progress_line


def node(**config):
    return {"name": "transfers", "alias": "transfers", "schema": "team", "config": config,
            "resource_type": "model", "original_file_path": "models/transfers.sql"}  # fmt: skip


def test_spec_defaults_and_references():
    spec = DatasetSpec.of(node(materialized="dataset"))
    assert (spec.deploy, spec.wait, spec.end_block, spec.version) == (False, False, None, None)
    assert spec.table_reference == '"team/transfers@dev".transfers'
    named = DatasetSpec.of(
        node(dataset_name="erc20", version="1.2.0", deploy="true", end_block=-10)
    )
    assert named.reference == "team/erc20@1.2.0" and named.deploy and named.end_block == "-10"
    assert DatasetSpec.of(node(end_block="-0")).end_block == "latest"  # 0 behind the head


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"version": "v1"}, "not a semver version"),
        ({"end_block": "soon"}, "end_block 'soon' must be 'latest'"),
        ({"end_block": "--5"}, "end_block '--5' must be 'latest'"),
        ({"dataset_name": "Bad-Name"}, "not a valid Amp dataset name"),
    ],
)
def test_bad_configs_are_compile_errors_naming_the_model(config, message):
    with pytest.raises(CompilationError) as err:
        DatasetSpec.of(node(**config))
    assert message in str(err.value) and "model 'transfers'" in str(err.value)


def test_wait_targets():
    assert _absolute_end("1500", lambda: 99) == 1500
    assert _absolute_end(None, lambda: 2000) == 2000
    assert _absolute_end("latest", lambda: 2000) == 2000
    assert _absolute_end("-100", lambda: 2000) == 1900
    assert _absolute_end("latest", lambda: None) is None


def test_progress_line():
    line = _progress_line("ns/x@dev", 1, "RUNNING", 500, 2000, 100, 2.0)
    assert line == (
        "ns/x@dev job 1 RUNNING [█████░░░░░░░░░░░░░░░]  25% | block 500 / 2,000 | "
        "200 blocks/s | ETA 8s"
    )
    assert _progress_line("ns/x@dev", 1, "COMPLETED", 2000, 2000, 2000, 0.5).endswith("| done")
    assert "block 3,010 / 3,010 | done" in _progress_line(
        "n/x@dev", 1, "RUNNING", 3010, 3008, 0, 1
    )
    assert "waiting for the first block" in _progress_line(
        "ns/x@dev", 1, "RUNNING", None, 9, None, 1
    )


def test_refusal_hints():
    from dbt.adapters.amp.admin import AdminError
    from dbt.adapters.amp.dataset_build import DatasetBuilder

    def refusal(message: str) -> str:
        error = AdminError("POST", "/schema", 400, "NON_INCREMENTAL_QUERY", message)
        return DatasetBuilder._refusal("model 'm'", error)

    aggregate = refusal("query contains non-incremental operation: Aggregate")
    assert "group by _block_num first, e.g." in aggregate
    limit = refusal("query contains non-incremental operation: Limit")
    assert "may not use LIMIT" in limit and "e.g." not in limit
    other = DatasetBuilder._refusal("model 'm'", AdminError("POST", "/schema", 404, "X", "y"))
    assert other == "model 'm': Amp refused the dataset's SQL with X: y"
