"""Derived manifests as Amp's serde types read them, and the derived-SQL analysis helpers."""

from __future__ import annotations

import pytest
import sqlglot

from amp_local.admin_errors import ManifestInvalid
from amp_local.derived import Failure, inter_table_order, table_references, with_block_num
from amp_local.manifests import DepReference, parse_derived

HASH = "ab" * 32
SCHEMA = {"arrow": {"fields": [{"name": "_block_num", "type": "UInt64", "nullable": False}]}}


def manifest(**changes) -> dict:
    out = {
        "kind": "manifest",
        "dependencies": {"eth": "_/eth_rpc@1.0.0"},
        "tables": {"t": {"input": {"sql": "SELECT * FROM eth.logs"}, "schema": SCHEMA}},
        "functions": {},
    }
    out.update(changes)
    return out


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("_/eth_rpc@1.0.0", ("_", "eth_rpc", "1.0.0")),
        (f"my_ns/x@{HASH}", ("my_ns", "x", HASH)),
        ("ns/x@0.4.10-rc.1+20230502", ("ns", "x", "0.4.10-rc.1+20230502")),
    ],
)
def test_dependency_references_are_pinned(text, parsed):
    ref = DepReference.parse(text)
    assert (ref.namespace, ref.name, ref.revision) == parsed and str(ref) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("_/eth_rpc@latest", "pinned"),
        ("_/eth_rpc@dev", "pinned"),
        ("eth_rpc@1.0.0", "namespace/name@version"),
        ("_/eth_rpc", "namespace/name@version"),
        ("_/eth-rpc@1.0.0", "invalid dataset name"),
        ("Ns/x@1.0.0", "invalid namespace"),
        ("_/x@v1", "invalid revision"),
    ],
)
def test_unpinned_or_malformed_dependencies_are_refused(text, why):
    with pytest.raises(ValueError, match=why):
        DepReference.parse(text)


def test_unknown_keys_are_ignored_like_serde():
    m = manifest()
    m["tables"]["t"]["network"] = "mainnet"  # what the TypeScript SDK adds
    parsed = parse_derived(m)
    assert parsed.tables["t"].schema.names == ["_block_num"]
    assert parsed.dependencies["eth"] == DepReference("_", "eth_rpc", "1.0.0")


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"kind": "derived"}, "unknown variant `derived`"),
        ({"dependencies": {"self": "_/eth_rpc@1.0.0"}}, "invalid dependency alias 'self'"),
        ({"dependencies": {"1eth": "_/eth_rpc@1.0.0"}}, "invalid dependency alias"),
        ({"tables": {"t": {"input": {"sql": "  "}, "schema": SCHEMA}}}, "non-empty SQL"),
        ({"tables": {"t": {"input": {"sql": "SELECT 1"}}}}, "missing field `schema`"),
        (
            {"tables": {"bad name": {"input": {"sql": "SELECT 1"}, "schema": SCHEMA}}},
            "invalid table name",
        ),
        (
            {"tables": {"t": {"input": {"sql": "SELECT 1"}, "schema": {"arrow": {"fields": []}}}}},
            "at least one field",
        ),
        (
            {"functions": {"f": {"inputTypes": ["Utf8"], "outputType": "Utf8"}}},
            "missing field `source`",
        ),
        (
            {
                "functions": {
                    "f": {
                        "inputTypes": [{"Decimal128": [38, 2]}],
                        "outputType": "Utf8",
                        "source": {"source": "", "filename": "f.js"},
                    }
                }
            },
            "scale 0",
        ),
    ],
)
def test_manifests_that_do_not_deserialize(changes, why):
    with pytest.raises(ManifestInvalid, match=why):
        parse_derived(manifest(**changes))


def refs(sql: str):
    return table_references(sqlglot.parse_one(sql, read="postgres"), "t")


def test_table_references_keep_aliases_self_and_bare_names_but_not_ctes():
    found = refs(
        "WITH x AS (SELECT * FROM eth.logs) SELECT * FROM x JOIN self.a ON true JOIN plain ON true"
    )
    assert [(r.schema, r.table) for r in found] == [
        ("self", "a"),
        (None, "plain"),
        ("eth", "logs"),
    ]


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT * FROM a.b.c", "catalog"),
        ('SELECT * FROM "_/eth@1.0.0".logs', "schema_format"),
        ('SELECT * FROM eth."bad name"', "table_name"),
    ],
)
def test_reference_failures(sql, kind):
    with pytest.raises(Failure) as exc:
        refs(sql)
    assert exc.value.kind == kind


def test_inter_table_order_is_depth_first_by_name_and_finds_cycles():
    order = inter_table_order(
        {
            "c": refs("SELECT * FROM self.a JOIN self.b ON true"),
            "b": refs("SELECT * FROM self.a"),
            "a": refs("SELECT * FROM eth.logs"),
        }
    )
    assert order == ["a", "b", "c"]
    with pytest.raises(Failure) as exc:
        inter_table_order({"a": refs("SELECT * FROM self.b"), "b": refs("SELECT * FROM self.a")})
    assert exc.value.kind == "cycle" and exc.value.table == "a"


@pytest.mark.parametrize(
    ("sql", "rewritten"),
    [
        ("SELECT a FROM eth.logs", "SELECT _block_num, a FROM eth.logs"),
        ("SELECT * FROM eth.logs", "SELECT * FROM eth.logs"),
        ("SELECT _block_num, a FROM eth.logs", "SELECT _block_num, a FROM eth.logs"),
        (
            "SELECT l.a FROM eth.logs l JOIN eth.blocks b ON l.x = b.x",
            "SELECT block_num() AS _block_num, l.a FROM eth.logs AS l JOIN eth.blocks AS b "
            "ON l.x = b.x",
        ),
        (
            "SELECT e.a FROM (SELECT a FROM eth.logs) AS e",
            "SELECT _block_num, e.a FROM (SELECT _block_num, a FROM eth.logs) AS e",
        ),
        (
            "WITH c AS (SELECT a FROM eth.logs) SELECT a FROM c UNION ALL SELECT a FROM self.t",
            "WITH c AS (SELECT _block_num, a FROM eth.logs) SELECT _block_num, a FROM c "
            "UNION ALL SELECT _block_num, a FROM self.t",
        ),
        (
            "SELECT count(*) AS n FROM eth.logs GROUP BY _block_num",
            "SELECT _block_num, COUNT(*) AS n FROM eth.logs GROUP BY _block_num",
        ),
        ("SELECT myUdf(a) AS x FROM eth.logs", "SELECT _block_num, myUdf(a) AS x FROM eth.logs"),
    ],
)
def test_block_num_is_selected_through_every_row_source(sql, rewritten):
    assert with_block_num(sql) == rewritten
