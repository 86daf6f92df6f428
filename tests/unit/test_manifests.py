"""Derived manifests from compiled SQL: reference rewriting, pinning, Amp's canonical hash."""

from __future__ import annotations

import hashlib

import pytest

from dbt.adapters.amp.manifests import (
    Reference,
    canonical_json,
    derived_manifest,
    manifest_hash,
    pin_dependencies,
    rewrite_references,
    table_references,
)

HASH = "a" * 64


def test_full_references_become_aliases_and_existing_aliases_are_reused():
    sql = (
        'with __dbt__cte__stg as (select * from "_/eth_rpc@1.0.0".logs)\n'
        'select l.block_num, b.hash from __dbt__cte__stg l join "_/eth_rpc@1.0.0"."blocks" b '
        'on l.block_num = b.block_num join "my/eth_rpc@dev".t x on true '
        'where l.address <> \'"_/eth_rpc@1.0.0".logs\' -- "_/eth_rpc@1.0.0".logs\n'
        "and eth.logs is not null"
    )
    out, deps = rewrite_references(sql, {"eth": "_/eth_firehose@1.0.0"})
    assert deps == {
        "eth": "_/eth_firehose@1.0.0",
        "eth_rpc": "_/eth_rpc@1.0.0",
        "eth_rpc_2": "my/eth_rpc@dev",
    }
    assert "from eth_rpc.logs)" in out and 'join eth_rpc."blocks" b' in out
    assert "join eth_rpc_2.t x" in out
    # literals and comments are text, not references
    assert "'\"_/eth_rpc@1.0.0\".logs'" in out and '-- "_/eth_rpc@1.0.0".logs' in out
    reused, deps2 = rewrite_references(
        'select * from "_/eth_rpc@1.0.0".logs', {"raw": "_/eth_rpc@1.0.0"}
    )
    assert reused == "select * from raw.logs" and deps2 == {"raw": "_/eth_rpc@1.0.0"}


def test_a_quoted_identifier_that_is_not_a_table_reference_is_left_alone():
    sql = 'select "_/eth_rpc@1.0.0" as x, "Mixed" from t'
    assert rewrite_references(sql, {}) == (sql, {})


def test_table_references_reads_alias_dot_table_in_code_only():
    sql = "select a.x from eth.logs a join raw.blocks b on true where 'eth.nope' = y -- eth.no\n"
    assert table_references(sql, {"eth", "raw"}) == {("eth", "logs"), ("raw", "blocks")}


def test_pinning_resolves_latest_dev_and_dataset_models_by_hash():
    asked = []

    def resolve(ref: Reference) -> str:
        asked.append(str(ref))
        return "1.2.0" if ref.revision == "latest" else HASH

    deps = {
        "a": "_/eth_rpc@latest",
        "b": "my/stg@dev",
        "c": "_/eth_firehose@1.0.0",
        "d": "my/mart@2.0.0",
    }
    pinned = pin_dependencies(deps, resolve, by_hash={"my/mart@2.0.0"})
    assert pinned == {
        "a": "_/eth_rpc@1.2.0",
        "b": f"my/stg@{HASH}",
        "c": "_/eth_firehose@1.0.0",
        "d": f"my/mart@{HASH}",
    }
    assert asked == ["_/eth_rpc@latest", "my/stg@dev", "my/mart@2.0.0"]


def test_canonical_form_and_hash_are_serde_jsons():
    schema = {"arrow": {"fields": [{"name": "_block_num", "type": "UInt64", "nullable": False}]}}
    manifest = derived_manifest(
        {"z": "_/z@1.0.0", "a": "_/a@1.0.0"}, {"t": ("SELECT 'é' FROM a.x", schema)}
    )
    text = canonical_json(manifest)
    assert text == (
        '{"kind":"manifest","dependencies":{"a":"_/a@1.0.0","z":"_/z@1.0.0"},'
        '"tables":{"t":{"input":{"sql":"SELECT \'é\' FROM a.x"},"schema":{"arrow":{"fields":'
        '[{"name":"_block_num","type":"UInt64","nullable":false}]}}}},"functions":{}}'
    )
    assert manifest_hash(manifest) == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("text", ["_/eth@1.0.0", "ns/name@dev", f"ns/name@{HASH}"])
def test_reference_round_trip(text):
    assert str(Reference.parse(text)) == text
