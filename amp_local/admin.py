"""Amp's Admin API (PROTOCOL §6, `admin.openapi.json`) over HTTP/JSON, default port 1610.

Paths, bodies, status codes and `{"error_code","error_message"}` error bodies follow the handlers in
Amp's `admin-api` crate; the registry (`registry.py`) and the scheduler/worker (`jobs.py`) do the work.

One deliberate superset: `POST /schema` answers each table with both shapes Amp has served,
`{"arrow": …}` (Amp's current handler) and `{"schema": {"arrow": …}, "networks": […]}` (what the
official TypeScript CLI `@edgeandnode/amp` still decodes; Amp kept it as a shim for that CLI). A client
of either shape reads its keys and ignores the others; the manifest schema is the `arrow` object.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from amp_local.admin_errors import ApiError, ValidationFailure, api_error
from amp_local.datasets import Dataset, DatasetStore
from amp_local.derived import Failure, analyse, schema_error
from amp_local.http_server import serve_http
from amp_local.jobs import ACTIVE, ALL_STATUSES, DELETE_FILTERS, NODE_ID, JobManager, job_info
from amp_local.manifests import FUNC_NAME_RE, parse_dependencies
from amp_local.metadata import MetadataDb, now
from amp_local.references import (
    InvalidReference,
    is_hash,
    is_semver,
    revision_kind,
    valid_name,
    valid_namespace,
    validate_table_name,
)
from amp_local.registry import Registry, scratch_dataset
from amp_local.schemas import schema_to_serde

log = logging.getLogger("amp_local.admin")

DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 1000
JSON_REQUIRED = "Expected request with `Content-Type: application/json`"


class AdminApi:
    """The endpoints, as functions of (path parameters, query, body) → (status, JSON body)."""

    def __init__(self, registry: Registry, jobs: JobManager) -> None:
        self.registry = registry
        self.jobs = jobs
        segment = r"([^/]+)"
        dataset = rf"/datasets/{segment}/{segment}"
        revision = rf"{dataset}/versions/{segment}"
        job = rf"/jobs/{segment}"
        self.routes: list[tuple[re.Pattern, dict[str, Callable]]] = [
            (re.compile(p + "$"), methods)
            for p, methods in (
                ("/healthz", {"GET": self.healthz}),
                ("/datasets", {"GET": self.list_datasets, "POST": self.register}),
                (dataset, {"DELETE": self.delete_dataset}),
                (rf"{dataset}/versions", {"GET": self.list_versions}),
                (revision, {"GET": self.dataset_info, "DELETE": self.delete_version}),
                (rf"{revision}/manifest", {"GET": self.dataset_manifest}),
                (rf"{revision}/deploy", {"POST": self.deploy}),
                (rf"{revision}/jobs", {"GET": self.dataset_jobs}),
                ("/jobs", {"GET": self.list_jobs, "DELETE": self.delete_jobs}),
                (job, {"GET": self.get_job, "DELETE": self.delete_job}),
                (rf"{job}/stop", {"PUT": self.stop_job}),
                (rf"{job}/progress", {"GET": self.job_progress}),
                (rf"{job}/events", {"GET": self.job_events}),
                (rf"{job}/events/{segment}", {"GET": self.job_event}),
                ("/manifests", {"POST": self.register_manifest}),
                (rf"/manifests/{segment}", {"GET": self.get_manifest}),
                ("/schema", {"POST": self.schema}),
                ("/workers", {"GET": self.workers}),
            )
        ]

    # --- health and workers -------------------------------------------------------------------

    def healthz(self, _args, _query, _body):
        return 200, "OK"

    def workers(self, _args, _query, _body):
        return 200, {"workers": [{"node_id": NODE_ID, "heartbeat_at": now()}]}

    # --- datasets -----------------------------------------------------------------------------

    def list_datasets(self, _args, _query, _body):
        return 200, {"datasets": self.registry.list_datasets()}

    def register(self, _args, _query, body):
        payload = _json_body(body, "INVALID_PAYLOAD_FORMAT", "invalid request body", chain=False)
        try:
            namespace, name = _required_str(payload, "namespace"), _required_str(payload, "name")
            _check_dataset_name(namespace, name)
            version = payload.get("version")
            if version is not None and (not isinstance(version, str) or not is_semver(version)):
                raise ValueError(f"invalid version '{version}': expected a semantic version")
            if "manifest" not in payload:
                raise ValueError("missing field `manifest`")
        except ValueError as exc:
            raise api_error(
                400,
                "INVALID_PAYLOAD_FORMAT",
                "invalid request body",
                f"Failed to deserialize the JSON body into the target type: {exc}",
            ) from None
        manifest = payload["manifest"]
        if isinstance(manifest, str) and is_hash(manifest.lower()):
            manifest = manifest.lower()
        elif isinstance(manifest, str):  # Amp reads other strings as manifest JSON: not an object
            raise api_error(
                400, "INVALID_MANIFEST", "invalid manifest", "invalid type: string, expected a map"
            )
        return 201, self.registry.register(namespace, name, version, manifest)

    def delete_dataset(self, args, _query, _body):
        namespace, name = _dataset_path(*args)
        self.registry.delete_dataset(namespace, name)
        return 204, None

    def list_versions(self, args, _query, _body):
        return 200, self.registry.versions(*_dataset_path(*args))

    def _revision(self, args) -> tuple[Dataset, str]:
        namespace, name = _dataset_path(args[0], args[1])
        revision = _revision_path(args[2])
        digest = self.registry.resolve(namespace, name, revision)
        if digest is None:
            raise ApiError(
                404,
                "DATASET_NOT_FOUND",
                f"Dataset '{namespace}/{name}' at revision '{revision}' not found",
            )
        return self.registry.dataset(namespace, name, digest), revision

    def dataset_info(self, args, _query, _body):
        dataset, revision = self._revision(args)
        return 200, {
            "namespace": dataset.namespace,
            "name": dataset.name,
            "revision": revision,
            "manifest_hash": dataset.manifest_hash,
            "kind": dataset.kind,
            "start_block": dataset.start_block,
            "finalized_blocks_only": dataset.finalized_blocks_only,
            "tables": sorted(dataset.tables),
        }

    def delete_version(self, args, _query, _body):
        namespace, name = _dataset_path(args[0], args[1])
        version = unquote(args[2])
        if not is_semver(version):
            raise _invalid_path(f"invalid version '{version}': expected a semantic version")
        self.registry.delete_version(namespace, name, version)
        return 204, None

    def dataset_manifest(self, args, _query, _body):
        dataset, _ = self._revision(args)
        return 200, self.registry.manifest_json(dataset.manifest_hash)

    def dataset_jobs(self, args, _query, _body):
        dataset, _ = self._revision(args)
        return 200, {
            "jobs": [
                job_info(job)
                for job in self.jobs.db.jobs()
                if (
                    job.descriptor.get("dataset_namespace"),
                    job.descriptor.get("dataset_name"),
                    job.descriptor.get("manifest_hash"),
                )
                == (dataset.namespace, dataset.name, dataset.manifest_hash)
            ]
        }

    def deploy(self, args, _query, body):
        namespace, name = _dataset_path(args[0], args[1])
        revision = _revision_path(args[2])
        request = _json_body(body, "INVALID_BODY", "Invalid request body")
        end_block = request.get("end_block")
        problem = _deploy_problem(request)
        if problem:
            raise _deserialize_error("INVALID_BODY", "Invalid request body", problem)
        if end_block is not None:
            end_block = _normalized_end_block(end_block)
        worker = request.get("worker_id")
        if worker is not None and not _worker_matches(worker):
            raise api_error(
                400,
                "WORKER_NOT_AVAILABLE",
                f"Failed to schedule job: specified worker '{worker}' not found or inactive",
                f"specified worker '{worker}' not found or inactive",
            )
        dataset, _ = self._revision([namespace, name, revision])
        return 202, {"job_id": self.jobs.deploy(dataset, end_block)}

    # --- manifests and schema -----------------------------------------------------------------

    def register_manifest(self, _args, _query, body):
        manifest = _json_body(
            body, "INVALID_PAYLOAD_FORMAT", "invalid request format", chain=False
        )
        digest, _ = self.registry.store_manifest(manifest)
        return 201, {"hash": digest}

    def get_manifest(self, args, _query, _body):
        digest = unquote(args[0]).lower()
        if not is_hash(digest):
            raise _invalid_path(f"invalid manifest hash '{digest}': expected 64 hex characters")
        return 200, self.registry.manifest_json(digest)

    def schema(self, _args, _query, body):
        """`POST /schema`: the output schema of each table's SQL, validated as Amp does."""
        request = _json_body(body, "INVALID_PAYLOAD_FORMAT", "Invalid payload format")
        tables, dependencies, functions = _schema_request(request)
        if not tables and not functions:
            raise ApiError(
                400,
                "EMPTY_TABLES_AND_FUNCTIONS",
                "At least one table or function must be provided",
            )
        if not tables:
            return 200, {"schemas": {}}
        aliases = {}
        for alias, ref in dependencies.items():
            if ref.is_hash:
                linked = self.registry.db.is_linked(ref.namespace, ref.name, ref.revision)
                digest = ref.revision if linked else None
            else:
                digest = self.registry.resolve(ref.namespace, ref.name, ref.revision)
            if digest is None:
                raise ApiError(
                    404,
                    "DEPENDENCY_NOT_FOUND",
                    f"Dependency '{alias}' ({ref}) not found in dataset store",
                )
            aliases[alias] = self.registry.dataset(ref.namespace, ref.name, digest)
        this = scratch_dataset(aliases)
        try:
            analysis = analyse(self.registry.store, aliases, tables, this, check_aliases=False)
        except Failure as failure:
            error: ValidationFailure = schema_error(failure)
            raise ApiError(error.status, error.code, str(error)) from None
        schemas = {}
        for name in sorted(analysis.schemas):
            serde = schema_to_serde(analysis.schemas[name])
            networks = sorted({b.table.network for b in analysis.plans[name].tables})
            schemas[name] = serde | {"schema": serde, "networks": networks}
        return 200, {"schemas": schemas}

    # --- jobs ---------------------------------------------------------------------------------

    def list_jobs(self, _args, query, _body):
        try:
            limit = int(_one(query, "limit", str(DEFAULT_PAGE_LIMIT)))
            last = _one(query, "last_job_id", None)
            last = None if last is None else int(last)
            if limit < 0 or (last is not None and last < 0):
                raise ValueError("number out of range")
        except ValueError as exc:
            raise ApiError(
                400,
                "INVALID_QUERY_PARAMETERS",
                f"invalid query parameters: Failed to deserialize query string: {exc}",
            ) from None
        if limit > MAX_PAGE_LIMIT:
            raise ApiError(
                400,
                "LIMIT_TOO_LARGE",
                f"limit {limit} exceeds maximum allowed limit of {MAX_PAGE_LIMIT}",
            )
        if limit == 0:
            raise ApiError(400, "LIMIT_INVALID", "limit must be greater than 0")
        status = _one(query, "status", "active").strip()
        if status.lower() == "active":
            statuses = ACTIVE
        elif status.lower() == "all":
            statuses = None
        else:  # Amp parses names case-insensitively; unknown names mean UNKNOWN
            statuses = tuple(
                s.strip().upper() if s.strip().upper() in ALL_STATUSES else "UNKNOWN"
                for s in status.split(",")
            )
        jobs = self.jobs.db.jobs(limit=limit, before=last, statuses=statuses)
        out = {"jobs": [job_info(job) for job in jobs]}
        if jobs:
            out["next_cursor"] = jobs[-1].id
        return 200, out

    def delete_jobs(self, _args, query, _body):
        status = _one(query, "status", None)
        if status is None or status.lower() not in DELETE_FILTERS:
            why = (
                "missing field `status`" if status is None else f"invalid status filter: {status}"
            )
            raise ApiError(
                400,
                "INVALID_QUERY_PARAM",
                f"invalid query parameters: Failed to deserialize query string: {why}",
            )
        self.jobs.delete_by_status(DELETE_FILTERS[status.lower()])
        return 204, None

    def get_job(self, args, _query, _body):
        return 200, self.jobs.info(_job_id(args[0]))

    def delete_job(self, args, _query, _body):
        self.jobs.delete(_job_id(args[0]))
        return 204, None

    def stop_job(self, args, _query, _body):
        self.jobs.stop(_job_id(args[0]))
        return 200, None

    def job_progress(self, args, _query, _body):
        return 200, self.jobs.progress(_job_id(args[0]))

    def job_events(self, args, _query, _body):
        return 200, self.jobs.events(_job_id(args[0]))

    def job_event(self, args, _query, _body):
        job_id = _job_id(args[0])
        try:
            event_id = int(unquote(args[1]))
        except ValueError:
            raise ApiError(
                400,
                "INVALID_JOB_ID",
                f"invalid path parameters: Cannot parse `{unquote(args[1])}` to a `i64`",
            ) from None
        return 200, self.jobs.event(job_id, event_id)


# --- request parsing ------------------------------------------------------------------------


def _json_body(body: tuple[str, bytes], code: str, error: str, *, chain: bool = True) -> object:
    """The JSON body, or Amp's rejection (axum's `Json` extractor messages)."""
    content_type, raw = body
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise _rejection(code, error, JSON_REQUIRED, chain)
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _rejection(
            code, error, f"Failed to parse the request body as JSON: {exc}", chain
        ) from None


def _rejection(code: str, error: str, why: str, chain: bool) -> ApiError:
    if chain:
        return api_error(400, code, f"{error}: {why}", why)
    return api_error(400, code, error, why)


def _deserialize_error(code: str, error: str, why: str) -> ApiError:
    why = f"Failed to deserialize the JSON body into the target type: {why}"
    return api_error(400, code, f"{error}: {why}", why)


def _required_str(payload: object, key: str) -> str:
    if not isinstance(payload, dict):
        raise ValueError("invalid type: expected a map")
    value = payload.get(key)
    if not isinstance(value, str):
        raise ValueError(
            f"missing field `{key}`" if value is None else f"`{key}`: expected a string"
        )
    return value


def _check_dataset_name(namespace: str, name: str) -> None:
    if not valid_namespace(namespace):
        raise ValueError(f"invalid namespace '{namespace}': use only [a-z0-9_]")
    if not valid_name(name):
        raise ValueError(
            f"invalid dataset name '{name}': must start with [a-z_] and contain only [a-z0-9_]"
        )


def _invalid_path(why: str) -> ApiError:
    return api_error(400, "INVALID_PATH", f"Invalid path parameters: {why}", why)


def _dataset_path(namespace: str, name: str) -> tuple[str, str]:
    namespace, name = unquote(namespace), unquote(name)
    try:
        _check_dataset_name(namespace, name)
    except ValueError as exc:
        raise _invalid_path(str(exc)) from None
    return namespace, name


def _revision_path(revision: str) -> str:
    revision = unquote(revision)
    if is_hash(revision.lower()):
        return revision.lower()
    try:
        revision_kind(revision)
    except InvalidReference as exc:
        raise _invalid_path(str(exc)) from None
    return revision


def _job_id(text: str) -> int:
    text = unquote(text)
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or not text.lstrip("+").isdigit():
        raise ApiError(400, "INVALID_JOB_ID", f"invalid job ID: Cannot parse `{text}` to a `i64`")
    return value


def _one(query: dict[str, list[str]], key: str, default: str | None) -> str | None:
    values = query.get(key)
    return values[-1] if values else default


def _deploy_problem(request: object) -> str | None:
    """What `DeployRequest` deserialization rejects, if anything."""
    if not isinstance(request, dict):
        return "invalid type: expected struct DeployRequest"
    end_block = request.get("end_block")
    if end_block is not None:
        if not isinstance(end_block, str):
            return f"end_block: invalid type: {type(end_block).__name__}, expected a string"
        if end_block != "latest":
            try:
                int(end_block)
            except ValueError:
                return (
                    f"end_block: invalid end block value: '{end_block}' "
                    "(expected 'latest' or an integer)"
                )
    parallelism = request.get("parallelism", 1)
    if type(parallelism) is not int or not 0 <= parallelism <= 65535:
        return "parallelism: expected an unsigned 16-bit integer"
    if request.get("worker_id") is not None and not isinstance(request["worker_id"], str):
        return "worker_id: expected a string"
    if not isinstance(request.get("verify", False), bool):
        return "verify: expected a boolean"
    return None


def _normalized_end_block(text: str) -> str:
    """`EndBlock`'s serialized form: `latest`, `N` or `-N`."""
    return text if text == "latest" else str(int(text))


def _worker_matches(selector: str) -> bool:
    if selector.endswith("*"):
        return NODE_ID.startswith(selector[:-1])
    return selector == NODE_ID


def _schema_request(request: object):
    """`SchemaRequest`: tables (name → SQL), dependencies (alias → pinned reference), functions."""

    def reject(why: str) -> ApiError:
        return _deserialize_error("INVALID_PAYLOAD_FORMAT", "Invalid payload format", why)

    if not isinstance(request, dict):
        raise reject("invalid type: expected struct SchemaRequest")
    tables = request.get("tables") or {}
    dependencies = request.get("dependencies") or {}
    functions = request.get("functions") or {}
    if not all(isinstance(v, dict) for v in (tables, dependencies, functions)):
        raise reject("tables, dependencies and functions must be maps")
    for name, sql in tables.items():
        try:
            validate_table_name(name)
        except InvalidReference as exc:
            raise reject(f"tables: {exc}") from None
        if not isinstance(sql, str) or not sql.strip():
            raise reject(f"tables.{name}: string cannot be empty or whitespace-only")
    try:
        deps = parse_dependencies(dependencies)
    except ValueError as exc:
        raise reject(str(exc)) from None
    for name in functions:
        if not FUNC_NAME_RE.match(name):
            raise reject(f"functions: invalid function name '{name}'")
    return tables, deps, functions


# --- HTTP -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    api: AdminApi
    token: str | None
    protocol_version = "HTTP/1.1"
    # headers and body go out as two writes: with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every keep-alive request
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # route http.server's logging through ours
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, status: int, body: object) -> None:
        if body is None:
            data, content_type = b"", None
        elif isinstance(body, str):
            data, content_type = body.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(body).encode(), "application/json"
        self.send_response(status)
        if content_type:
            self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _authorized(self, path: str) -> bool:
        if self.token is None or path == "/healthz":
            return True
        scheme, _, token = (self.headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.token

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self._authorized(url.path):
            self._send(
                401,
                {
                    "error_code": "UNAUTHENTICATED",
                    "error_message": "missing or invalid bearer token: send "
                    "'authorization: Bearer <token>'",
                },
            )
            return
        for pattern, methods in self.api.routes:
            match = pattern.match(url.path)
            if match is None:
                continue
            handler = methods.get(self.command)
            if handler is None:
                self._send(405, None)
                return
            try:
                body = (self.headers.get("content-type") or "", raw)
                status, payload = handler(list(match.groups()), parse_qs(url.query), body)
            except ApiError as error:
                status, payload = error.status, error.to_json()
            except Exception as exc:  # a bug in amp_local: a 500 with the cause, not a hang
                log.exception("admin %s %s failed", self.command, url.path)
                status, payload = (
                    500,
                    {
                        "error_code": "INTERNAL_ERROR",
                        "error_message": f"{type(exc).__name__}: {exc}",
                    },
                )
            self._send(status, payload)
            return
        self._send(
            404,
            {
                "error_code": "NOT_FOUND",
                "error_message": f"no Admin API route for {self.command} {url.path}",
            },
        )

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch  # noqa: N815 - http.server's naming


def open_admin(store: DatasetStore, data_dir: Path) -> tuple[JobManager, AdminApi]:
    """The Admin API over `store`, its registry and jobs persisted under `data_dir/admin`: the
    datasets the server was started with are recorded, earlier registrations restored."""
    db = MetadataDb(data_dir / "admin" / "metadata.sqlite")
    registry = Registry(store, db, data_dir / "admin" / "data")
    registry.adopt_store()
    registry.load()
    jobs = JobManager(db, registry)
    return jobs, AdminApi(registry, jobs)


def serve_admin(
    api: AdminApi, host: str, port: int, token: str | None = None
) -> tuple[ThreadingHTTPServer, int]:
    """Start the Admin API HTTP server in a daemon thread; returns it and the bound port."""
    handler = type("AdminHandler", (_Handler,), {"api": api, "token": token})
    return serve_http(handler, host, port, "Admin API", "--admin-port")
