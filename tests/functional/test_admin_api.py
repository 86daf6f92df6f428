"""amp_local's Admin API endpoints against Amp's handlers: paths, bodies, status codes, error codes.

Every response goes through `AdminClient`, which validates it against Amp's OpenAPI document.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from amp_local.schemas import canonical_json, manifest_hash
from tests.functional.admin_client import build_manifest, error

RPC = "_/eth_rpc@1.0.0"
LOGS_SQL = "SELECT block_num, tx_hash, log_index, address FROM eth.logs WHERE topic0 IS NOT NULL"


def schema_of(admin, sql: str, dependencies=None, table: str = "t") -> dict:
    r = admin.post(
        "/schema", json={"tables": {table: sql}, "dependencies": dependencies or {"eth": RPC}}
    )
    assert r.status_code == 200, r.text
    return r.json()["schemas"][table]


def derived(admin, tables: dict[str, str], dependencies=None) -> dict:
    return build_manifest(admin, tables, dependencies or {"eth": RPC})


def test_healthz_and_raw_datasets(admin, amp_server):
    r = admin.get("/healthz")
    assert r.status_code == 200 and r.text == "OK"
    listed = {(d["namespace"], d["name"]): d for d in admin.get("/datasets").json()["datasets"]}
    assert listed[("_", "eth_rpc")]["versions"] == ["1.0.0", "0.0.0"]
    assert listed[("_", "eth_rpc")]["latest_version"] == "1.0.0"

    versions = admin.get("/datasets/_/eth_rpc/versions").json()
    assert [v["version"] for v in versions["versions"]] == ["1.0.0", "0.0.0"]
    assert versions["special_tags"]["latest"] == "1.0.0"

    info = admin.get("/datasets/_/eth_rpc/versions/1.0.0").json()
    assert info["kind"] == "evm-rpc" and info["tables"] == ["blocks", "logs", "transactions"]
    manifest = admin.get("/datasets/_/eth_rpc/versions/1.0.0/manifest").json()
    assert manifest_hash(manifest) == info["manifest_hash"]
    by_hash = admin.get(f"/datasets/_/eth_rpc/versions/{info['manifest_hash']}").json()
    assert by_hash["revision"] == info["manifest_hash"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/datasets/_/nope/versions/1.0.0", 404, "DATASET_NOT_FOUND"),
        ("/datasets/_/eth_rpc/versions/9.9.9", 404, "DATASET_NOT_FOUND"),
        ("/datasets/_/Bad-Name/versions/1.0.0", 400, "INVALID_PATH"),
        ("/datasets/_/eth_rpc/versions/not-a-revision", 400, "INVALID_PATH"),
        ("/jobs/abc", 400, "INVALID_JOB_ID"),
        ("/jobs/999999", 404, "JOB_NOT_FOUND"),
        ("/jobs/999999/progress", 404, "JOB_NOT_FOUND"),
        ("/jobs/999999/events", 404, "JOB_NOT_FOUND"),
        ("/jobs?limit=0", 400, "LIMIT_INVALID"),
        ("/jobs?limit=1001", 400, "LIMIT_TOO_LARGE"),
        ("/jobs?limit=x", 400, "INVALID_QUERY_PARAMETERS"),
    ],
)
def test_read_errors(admin, path, status, code):
    error(admin.get(path), status, code)


def test_schema_prepends_block_num_in_both_response_shapes(admin):
    entry = schema_of(admin, LOGS_SQL)
    fields = entry["arrow"]["fields"]
    assert fields[0] == {"name": "_block_num", "type": "UInt64", "nullable": False}
    assert [f["name"] for f in fields] == [
        "_block_num",
        "block_num",
        "tx_hash",
        "log_index",
        "address",
    ]
    assert fields[2]["type"] == {"FixedSizeBinary": 32}
    # the shape the official TypeScript CLI decodes: {schema, networks} with one network
    assert entry["schema"] == {"arrow": entry["arrow"]} and entry["networks"] == ["mainnet"]


def test_schema_orders_self_references_and_keeps_a_selected_block_num(admin):
    r = admin.post(
        "/schema",
        json={
            "dependencies": {"eth": RPC},
            "tables": {
                "b_counts": "SELECT _block_num, count(*) AS n FROM self.a_logs GROUP BY _block_num",
                "a_logs": "SELECT address, _block_num FROM eth.logs",
            },
        },
    )
    assert r.status_code == 200, r.text
    schemas = r.json()["schemas"]
    assert [f["name"] for f in schemas["a_logs"]["arrow"]["fields"]] == ["address", "_block_num"]
    assert [f["name"] for f in schemas["b_counts"]["arrow"]["fields"]] == ["_block_num", "n"]


@pytest.mark.parametrize(
    ("tables", "status", "code", "message"),
    [
        ({"t": "SELECT * FROM eth.logs LIMIT 5"}, 400, "NON_INCREMENTAL_QUERY",
         "Table 't' contains non-incremental SQL: query contains non-incremental operation: Limit"),
        ({"t": "SELECT block_num FROM eth.logs ORDER BY block_num"}, 400, "NON_INCREMENTAL_QUERY",
         "operation: Sort"),
        ({"t": "SELECT address, count(*) AS n FROM eth.logs GROUP BY address"}, 400,
         "NON_INCREMENTAL_QUERY", "operation: Aggregate"),
        ({"t": "SELECT DISTINCT address FROM eth.logs"}, 400, "NON_INCREMENTAL_QUERY",
         "operation: Distinct"),
        ({"t": "SELECT l.address FROM eth.logs l LEFT JOIN eth.blocks b ON l.block_num = b.block_num"},
         400, "NON_INCREMENTAL_QUERY", "operation: Join(Left)"),
        ({"t": "SELECT row_number() OVER (ORDER BY block_num) AS r FROM eth.logs"}, 400,
         "NON_INCREMENTAL_QUERY", "operation: Window"),
        ({"t": "SELECT block_num AS _b FROM eth.logs"}, 400, "INVALID_PLAN",
         "Underscore-prefixed names are reserved"),
        ({"t": "SELECT 1 AS one"}, 400, "NO_TABLE_REFERENCES",
         "Table 't' does not reference any source tables"),
        ({"t": "SELECT * FROM amp.eth.logs"}, 400, "CATALOG_QUALIFIED_TABLE",
         "Catalog-qualified table references are not supported"),
        ({"t": 'SELECT * FROM "_/eth_rpc@1.0.0".logs'}, 400, "TABLE_REFERENCE_RESOLUTION",
         "Invalid schema format"),
        ({"t": "SELECT * FROM self.t"}, 400, "SELF_REFERENCING_TABLE",
         "Table 't' references itself via self.t"),
        ({"t": "SELECT * FROM self.missing"}, 400, "SELF_REF_TABLE_NOT_FOUND",
         "references non-existent sibling table 'self.missing'"),
        ({"a": "SELECT * FROM self.b", "b": "SELECT * FROM self.a"}, 400, "CYCLIC_DEPENDENCY",
         "Cyclic dependency detected"),
        ({"t": "SELECT (a FROM eth.logs"}, 400, "INVALID_TABLE_SQL", "Invalid SQL query for table 't'"),
        ({"t": "SELECT 1 FROM eth.logs; SELECT 2 FROM eth.logs"}, 400, "INVALID_TABLE_SQL",
         "found 2"),
        ({"t": "SELECT no_such_column FROM eth.logs"}, 500, "SCHEMA_INFERENCE",
         "Failed to plan SQL for table 't'"),
        ({"t": "SELECT * FROM other.logs"}, 500, "SCHEMA_INFERENCE", "other"),
    ],
)  # fmt: skip
def test_schema_refuses_what_amp_refuses(admin, tables, status, code, message):
    r = admin.post("/schema", json={"tables": tables, "dependencies": {"eth": RPC}})
    assert message in error(r, status, code)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"tables": {}, "dependencies": {}}, 400, "EMPTY_TABLES_AND_FUNCTIONS"),
        ({"tables": {"t": LOGS_SQL}, "dependencies": {"eth": "_/eth_rpc@latest"}}, 400,
         "INVALID_PAYLOAD_FORMAT"),
        ({"tables": {"t": LOGS_SQL}, "dependencies": {"eth": "_/eth_rpc@7.7.7"}}, 404,
         "DEPENDENCY_NOT_FOUND"),
        ({"tables": {"t": LOGS_SQL}, "dependencies": {"eth": "_/eth_rpc@" + "a" * 64}}, 404,
         "DEPENDENCY_NOT_FOUND"),
        ({"tables": {"t": ""}, "dependencies": {"eth": RPC}}, 400, "INVALID_PAYLOAD_FORMAT"),
        ({"tables": {"t": LOGS_SQL}, "dependencies": {"self": RPC}}, 400, "INVALID_PAYLOAD_FORMAT"),
    ],
)  # fmt: skip
def test_schema_request_errors(admin, body, status, code):
    error(admin.post("/schema", json=body), status, code)


def test_json_bodies_need_json(admin):
    r = admin.post("/schema", content=b'{"tables": {}}', headers={"content-type": "text/plain"})
    assert "Content-Type: application/json" in error(r, 400, "INVALID_PAYLOAD_FORMAT")
    r = admin.post("/datasets", content=b"{nope", headers={"content-type": "application/json"})
    assert "Failed to parse the request body as JSON" in error(r, 400, "INVALID_PAYLOAD_FORMAT")


def test_manifest_hash_is_sha256_of_canonical_json(admin):
    manifest = derived(admin, {"t": LOGS_SQL})
    # what the TypeScript SDK adds (network per table, function names) and key order don't count
    decorated = json.loads(json.dumps(manifest))
    decorated["tables"]["t"]["network"] = "mainnet"
    decorated = dict(reversed(list(decorated.items())))
    r = admin.post("/manifests", json=decorated)
    assert r.status_code == 201, r.text
    digest = r.json()["hash"]
    assert digest == hashlib.sha256(canonical_json(manifest).encode()).hexdigest()
    stored = admin.get(f"/manifests/{digest}")
    assert stored.status_code == 200
    assert json.dumps(stored.json(), separators=(",", ":"), ensure_ascii=False) == canonical_json(
        manifest
    )


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (lambda m: m["tables"]["t"]["input"].update(sql=LOGS_SQL + " LIMIT 3"),
         "MANIFEST_VALIDATION_ERROR",
         "Manifest validation error | Caused by: Table 't' contains non-incremental SQL: "
         "query contains non-incremental operation: Limit"),
        (lambda m: m["dependencies"].update(eth="_/eth_rpc@latest"), "INVALID_MANIFEST",
         "must be pinned"),
        (lambda m: m["dependencies"].update(eth="_/eth_rpc@3.3.3"), "MANIFEST_VALIDATION_ERROR",
         "Dependency 'eth' not found (_/eth_rpc@3.3.3)"),
        (lambda m: m["tables"]["t"]["input"].update(sql="SELECT * FROM other.logs"),
         "MANIFEST_VALIDATION_ERROR",
         "Dependency alias 'other' referenced in table but not provided in dependencies"),
        (lambda m: m["tables"]["t"]["input"].update(sql="SELECT block_num AS _b FROM eth.logs"),
         "MANIFEST_VALIDATION_ERROR", "Underscore-prefixed names are reserved"),
        (lambda m: m.update(kind="static"), "INVALID_MANIFEST", "unknown variant `static`"),
        (lambda m: m["tables"]["t"].pop("schema"), "INVALID_MANIFEST", "missing field `schema`"),
    ],
)  # fmt: skip
def test_registration_validates_derived_manifests(admin, change, code, message):
    manifest = derived(admin, {"t": LOGS_SQL})
    change(manifest)
    r = admin.post(
        "/datasets", json={"namespace": "tests", "name": "invalid", "manifest": manifest}
    )
    assert message in error(r, 400, code)


def test_registration_payload_errors(admin):
    manifest = derived(admin, {"t": LOGS_SQL})
    for payload in (
        {"namespace": "Tests", "name": "x", "manifest": manifest},
        {"namespace": "tests", "name": "x-y", "manifest": manifest},
        {"namespace": "tests", "name": "x", "version": "latest", "manifest": manifest},
        {"namespace": "tests", "name": "x"},
    ):
        error(admin.post("/datasets", json=payload), 400, "INVALID_PAYLOAD_FORMAT")
    missing = {"namespace": "tests", "name": "x", "manifest": "b" * 64}
    assert "not found" in error(admin.post("/datasets", json=missing), 404, "MANIFEST_NOT_FOUND")


def test_tags_versions_and_deletion(admin):
    manifest = derived(admin, {"t": LOGS_SQL})
    other = derived(admin, {"t": LOGS_SQL + " AND log_index = 0"})
    ns, name = "tests", "tagged"
    first = admin.post("/datasets", json={"namespace": ns, "name": name, "manifest": manifest})
    assert first.status_code == 201 and "version" not in first.json()
    # only `dev` moved: not listed (no semver tag), `latest` does not resolve
    assert (ns, name) not in {
        (d["namespace"], d["name"]) for d in admin.get("/datasets").json()["datasets"]
    }
    versions = admin.get(f"/datasets/{ns}/{name}/versions").json()
    assert versions["versions"] == [] and versions["special_tags"] == {
        "dev": first.json()["manifest_hash"]
    }
    error(admin.get(f"/datasets/{ns}/{name}/versions/latest"), 404, "DATASET_NOT_FOUND")

    v1 = admin.post(
        "/datasets", json={"namespace": ns, "name": name, "version": "0.1.0", "manifest": manifest}
    )
    v2 = admin.post(
        "/datasets", json={"namespace": ns, "name": name, "version": "0.2.0", "manifest": other}
    )
    assert v1.json()["version"] == "0.1.0" and v2.json()["tables"] == ["t"]
    versions = admin.get(f"/datasets/{ns}/{name}/versions").json()
    assert [v["version"] for v in versions["versions"]] == ["0.2.0", "0.1.0"]
    assert versions["special_tags"] == {"latest": "0.2.0", "dev": v2.json()["manifest_hash"]}
    assert (
        admin.get(f"/datasets/{ns}/{name}/versions/latest").json()["manifest_hash"]
        == v2.json()["manifest_hash"]
    )
    # registering by hash links an already stored manifest
    by_hash = admin.post(
        "/datasets",
        json={"namespace": ns, "name": "by_hash", "manifest": v1.json()["manifest_hash"]},
    )
    assert (
        by_hash.status_code == 201
        and by_hash.json()["manifest_hash"] == v1.json()["manifest_hash"]
    )

    assert "latest" in error(
        admin.delete(f"/datasets/{ns}/{name}/versions/0.2.0"), 400, "CANNOT_DELETE_LATEST_VERSION"
    )
    assert admin.delete(f"/datasets/{ns}/{name}/versions/0.1.0").status_code == 204
    assert admin.delete(f"/datasets/{ns}/{name}/versions/0.1.0").status_code == 204  # idempotent
    assert [
        v["version"] for v in admin.get(f"/datasets/{ns}/{name}/versions").json()["versions"]
    ] == ["0.2.0"]
    assert admin.delete(f"/datasets/{ns}/{name}").status_code == 204
    assert admin.delete(f"/datasets/{ns}/{name}").status_code == 204
    assert admin.get(f"/datasets/{ns}/{name}/versions").json()["versions"] == []
    error(admin.get(f"/datasets/{ns}/{name}/versions/0.2.0"), 404, "DATASET_NOT_FOUND")  # fmt: skip


def test_unknown_routes_and_methods(admin):
    r = admin.http.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error_code"] == "NOT_FOUND"
    assert admin.http.put("/datasets").status_code == 405
