"""An httpx client for amp_local's Admin API that checks every response against Amp's published
OpenAPI document (`amp_local/amp_schemas/admin.openapi.json`): the operation is found by method and
path template, and the body must match the schema declared for that status code."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:amp:admin.openapi.json"


@cache
def spec() -> dict:
    return json.loads(
        resources.files("amp_local").joinpath("amp_schemas/admin.openapi.json").read_text()
    )


@cache
def _operations() -> list[tuple[str, re.Pattern, dict]]:
    out = []
    for template, methods in spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
        for method, operation in methods.items():
            out.append((method.upper(), pattern, {**operation, "x-path": template}))
    # literal paths before templated ones (`/jobs/{id}` must not swallow nothing, but be exact)
    out.sort(key=lambda op: op[1].pattern.count("[^/]+"))
    return out


def operation(method: str, path: str) -> dict:
    for op_method, pattern, op in _operations():
        if op_method == method and pattern.match(path):
            return op
    raise AssertionError(f"{method} {path} is not an operation of Amp's Admin API")


@cache
def _registry() -> Registry:
    return Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012)
    )


def validate(schema: dict, instance: object) -> None:
    """Validate `instance` against a schema fragment of the OpenAPI document."""
    wrapper = {"$schema": "https://json-schema.org/draft/2020-12/schema", **_rebased(schema)}
    jsonschema.Draft202012Validator(wrapper, registry=_registry()).validate(instance)


def validate_component(name: str, instance: object) -> None:
    validate({"$ref": f"#/components/schemas/{name}"}, instance)


def _rebased(node: object) -> object:
    """Point local `#/...` refs at the registered document."""
    if isinstance(node, dict):
        return {
            k: (SPEC_URI + v if k == "$ref" and v.startswith("#") else _rebased(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebased(v) for v in node]
    return node


# Statuses Amp's handlers return that its generated spec leaves out (the code wins); their bodies
# are still checked as `ErrorResponse`.
UNDOCUMENTED = {
    ("POST", "/datasets", 404),  # register.rs: MANIFEST_NOT_FOUND for an unknown manifest hash
    (
        "POST",
        "/datasets/{namespace}/{name}/versions/{revision}/deploy",
        409,
    ),  # ACTIVE_JOB_CONFLICT
}


def check_response(method: str, response: httpx.Response) -> None:
    """The response's status is declared for the operation and its body matches the schema."""
    path = response.request.url.path
    op = operation(method, path)
    if response.status_code == 401:  # amp_local --token: what a gateway in front of Amp answers
        validate_component("ErrorResponse", response.json())
        return
    if (method, op["x-path"], response.status_code) in UNDOCUMENTED:
        validate_component("ErrorResponse", response.json())
        return
    declared = op["responses"].get(str(response.status_code))
    assert declared is not None, (
        f"{method} {path} answered {response.status_code}, which Amp's spec does not declare "
        f"({sorted(op['responses'])}): {response.text}"
    )
    content = declared.get("content", {}).get("application/json")
    if content is None:
        assert response.content == b"", f"{method} {path}: expected an empty body"
        return
    validate(content["schema"], response.json())
    if response.status_code >= 400:
        validate_component("ErrorResponse", response.json())


class AdminClient:
    """httpx against the Admin API; every call's response is checked against the spec."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, timeout=60, headers=headers)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if path != "/healthz":  # Amp serves /healthz outside the documented API
            check_response(method, response)
        return response

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.http.close()


def error(response: httpx.Response, status: int, code: str) -> str:
    """Assert an Amp error response; returns its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return body["error_message"]


def build_manifest(admin: AdminClient, tables: dict[str, str], dependencies: dict) -> dict:
    """A derived manifest whose schemas come from `POST /schema`, as `amp build` makes one."""
    r = admin.post("/schema", json={"tables": tables, "dependencies": dependencies})
    assert r.status_code == 200, r.text
    schemas = r.json()["schemas"]
    return {
        "kind": "manifest",
        "dependencies": dependencies,
        "tables": {
            name: {"input": {"sql": sql}, "schema": {"arrow": schemas[name]["arrow"]}}
            for name, sql in tables.items()
        },
        "functions": {},
    }


def register(admin: AdminClient, namespace: str, name: str, manifest: dict, version=None) -> str:
    """Register a manifest under namespace/name (and a version tag); returns its hash."""
    body = {"namespace": namespace, "name": name, "manifest": manifest}
    if version is not None:
        body["version"] = version
    r = admin.post("/datasets", json=body)
    assert r.status_code == 201, r.text
    return r.json()["manifest_hash"]


def deploy(admin: AdminClient, reference: str, end_block: str | None) -> int:
    """`POST …/deploy` for `ns/name@rev`; returns the job id."""
    fqn, _, revision = reference.partition("@")
    r = admin.post(f"/datasets/{fqn}/versions/{revision}/deploy", json={"end_block": end_block})
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def wait_job(admin: AdminClient, job_id: int, statuses, deadline_seconds: float = 120) -> dict:
    """Poll `GET /jobs/{id}` until its status is one of `statuses` (a deadline, not a timing
    assertion: it only bounds how long a broken server can hang the test)."""
    import time

    end = time.monotonic() + deadline_seconds
    while True:
        job = admin.get(f"/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > end:
            progress = admin.get(f"/jobs/{job_id}/progress").json()
            raise AssertionError(f"job {job_id} still {job['status']}: {progress}")
        time.sleep(0.1)


def completed(admin: AdminClient, job_id: int) -> dict:
    """Wait for a job to finish and assert it completed (else show why it did not)."""
    job = wait_job(admin, job_id, {"COMPLETED", "ERROR", "FATAL", "STOPPED"})
    if job["status"] != "COMPLETED":
        raise AssertionError(
            f"job {job_id} {job['status']}: {admin.get(f'/jobs/{job_id}/progress').json()}"
        )
    return job
