"""The one client of Amp's Admin API (PROTOCOL §6): typed answers, Amp's error codes, retries.

Used by the `dataset` materialization, `dbt debug` and the monitor. Every error is an `AdminError`
carrying Amp's `error_code` and `error_message` (or, for transport failures, what was unreachable),
so callers can branch on codes and users see Amp's own words. Calls that Amp documents as
idempotent (reads, stop, delete, register, deploy, schema inference) are retried with exponential
backoff on connection errors and 5xx answers; nothing else is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

TERMINAL_STATUSES = frozenset({"COMPLETED", "STOPPED", "ERROR", "FATAL"})
FAILED_STATUSES = frozenset({"ERROR", "FATAL"})


class AdminError(Exception):
    """An Admin API call failed. `code` is Amp's `error_code` (or a transport code of ours)."""

    def __init__(self, method: str, path: str, status: int | None, code: str, message: str):
        self.method, self.path, self.status, self.code, self.message = (
            method,
            path,
            status,
            code,
            message,
        )
        where = f"{method} {path}" + (f" → HTTP {status}" if status else "")
        super().__init__(f"{code}: {message} ({where})")


class AdminUnreachable(AdminError):
    """No HTTP answer at all (refused, DNS, TLS, timeout) after the retries."""


class AdminAuthError(AdminError):
    """HTTP 401/403: the token is missing, wrong or expired."""


@dataclass(frozen=True)
class RegisterResponse:
    namespace: str
    name: str
    manifest_hash: str
    version: str | None
    tables: list[str]

    @classmethod
    def from_json(cls, data: dict) -> RegisterResponse:
        return cls(
            data["namespace"],
            data["name"],
            data["manifest_hash"],
            data.get("version"),
            list(data.get("tables", [])),
        )


@dataclass(frozen=True)
class JobInfo:
    id: int
    status: str
    created_at: str
    updated_at: str
    node_id: str | None
    descriptor: dict = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def dataset(self) -> str | None:
        """`ns/name@hash` of the dataset the job materializes, from its descriptor."""
        d = self.descriptor
        if not d.get("dataset_name"):
            return None
        return f"{d.get('dataset_namespace')}/{d['dataset_name']}@{d.get('manifest_hash')}"

    @classmethod
    def from_json(cls, data: dict) -> JobInfo:
        return cls(
            int(data["id"]),
            data["status"],
            data.get("created_at", ""),
            data.get("updated_at", ""),
            data.get("node_id"),
            data.get("descriptor") or {},
        )


@dataclass(frozen=True)
class TableProgress:
    start_block: int | None
    current_block: int | None
    files_count: int
    total_size_bytes: int


@dataclass(frozen=True)
class JobProgress:
    job_id: int
    status: str
    tables: dict[str, TableProgress]
    detail: dict | None

    @property
    def current_block(self) -> int | None:
        """The block every table has reached (the slowest table), or None if one has nothing."""
        blocks = [t.current_block for t in self.tables.values()]
        if not blocks or any(b is None for b in blocks):
            return None
        return min(blocks)  # type: ignore[type-var]

    @classmethod
    def from_json(cls, data: dict) -> JobProgress:
        tables = {
            name: TableProgress(
                t.get("start_block"),
                t.get("current_block"),
                int(t.get("files_count") or 0),
                int(t.get("total_size_bytes") or 0),
            )
            for name, t in (data.get("tables") or {}).items()
        }
        return cls(int(data["job_id"]), data["job_status"], tables, data.get("detail"))


@dataclass(frozen=True)
class JobEvent:
    id: int
    event_type: str
    created_at: str
    node_id: str | None
    detail: Any = None

    @classmethod
    def from_json(cls, data: dict) -> JobEvent:
        return cls(
            int(data["id"]),
            data["event_type"],
            data.get("created_at", ""),
            data.get("node_id"),
            data.get("detail"),
        )


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


class AdminClient:
    """A typed client for one Amp Admin API endpoint (`admin_url` in the profile)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never the token
        return f"AdminClient({self.base_url!r})"

    # --- transport -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """One call; retried on connection errors and 5xx when `idempotent`. Raises AdminError."""
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TimeoutException as exc:
                if last:
                    raise AdminUnreachable(
                        method, path, None, "TIMEOUT", f"no answer from {self.base_url}: {exc}"
                    ) from None
            except httpx.TransportError as exc:
                if last:
                    raise AdminUnreachable(
                        method,
                        path,
                        None,
                        "UNREACHABLE",
                        f"could not reach Amp's Admin API at {self.base_url} ({exc}); is "
                        "the server running and admin_url right?",
                    ) from None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500 or last:
                    raise self._error(method, path, response)
            self._sleep(self.backoff * (2**attempt))
        raise AssertionError("unreachable")  # the loop returns or raises

    @staticmethod
    def _error(method: str, path: str, response: httpx.Response) -> AdminError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "error_code" in body:
            code, message = str(body["error_code"]), str(body.get("error_message", ""))
        else:
            code = f"HTTP_{response.status_code}"
            message = (response.text or response.reason_phrase).strip()[:500]
        kind = AdminAuthError if response.status_code in (401, 403) else AdminError
        return kind(method, path, response.status_code, code, message)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    # --- health, schema, manifests -----------------------------------------------------------------

    def healthz(self) -> None:
        self.request("GET", "/healthz")

    def schema(
        self, dependencies: dict[str, str], tables: dict[str, str], functions: dict | None = None
    ) -> dict[str, dict]:
        """`POST /schema`: the manifest `schema` object of each table (`_block_num` first)."""
        body = {"dependencies": dependencies, "tables": tables, "functions": functions or {}}
        return self._json("POST", "/schema", json=body)["schemas"]

    def store_manifest(self, manifest: dict) -> str:
        """`POST /manifests`: store without linking; the manifest hash."""
        return self._json("POST", "/manifests", json=manifest)["hash"]

    # --- datasets ------------------------------------------------------------------------------

    def datasets(self) -> list[dict]:
        return self._json("GET", "/datasets")["datasets"]

    def register(
        self, namespace: str, name: str, manifest: dict | str, version: str | None = None
    ) -> RegisterResponse:
        """`POST /datasets`: store and link the manifest, move `dev` (and tag `version`)."""
        body: dict[str, Any] = {"namespace": namespace, "name": name, "manifest": manifest}
        if version:
            body["version"] = version
        return RegisterResponse.from_json(self._json("POST", "/datasets", json=body))

    def versions(self, namespace: str, name: str) -> dict:
        return self._json("GET", f"/datasets/{_segment(namespace)}/{_segment(name)}/versions")

    def dataset_info(self, namespace: str, name: str, revision: str) -> dict:
        return self._json("GET", self._version_path(namespace, name, revision))

    def manifest(self, namespace: str, name: str, revision: str) -> dict:
        return self._json("GET", self._version_path(namespace, name, revision) + "/manifest")

    def delete_dataset(self, namespace: str, name: str) -> None:
        self.request("DELETE", f"/datasets/{_segment(namespace)}/{_segment(name)}")

    def deploy(
        self, namespace: str, name: str, revision: str, end_block: str | int | None = None
    ) -> int:
        """`POST …/deploy`: schedule (or find) the dataset's job; its id.

        `end_block`: None = continuous, "latest", an absolute block or "-N" (sent as a string,
        as Amp requires)."""
        body = {"end_block": None if end_block is None else str(end_block)}
        path = self._version_path(namespace, name, revision) + "/deploy"
        return int(self._json("POST", path, json=body)["job_id"])

    def dataset_jobs(self, namespace: str, name: str, revision: str) -> list[JobInfo]:
        data = self._json("GET", self._version_path(namespace, name, revision) + "/jobs")
        return [JobInfo.from_json(j) for j in data["jobs"]]

    @staticmethod
    def _version_path(namespace: str, name: str, revision: str) -> str:
        return f"/datasets/{_segment(namespace)}/{_segment(name)}/versions/{_segment(revision)}"

    # --- jobs ----------------------------------------------------------------------------------

    def jobs(
        self, status: str = "all", limit: int = 100, last_job_id: int | None = None
    ) -> tuple[list[JobInfo], int | None]:
        """One page of `GET /jobs`: the jobs and the cursor of the next page (None at the end)."""
        params: dict[str, Any] = {"status": status, "limit": limit}
        if last_job_id is not None:
            params["last_job_id"] = last_job_id
        data = self._json("GET", "/jobs", params=params)
        return [JobInfo.from_json(j) for j in data["jobs"]], data.get("next_cursor")

    def iter_jobs(self, status: str = "all", page_size: int = 100) -> Iterator[JobInfo]:
        cursor = None
        while True:
            page, cursor = self.jobs(status, page_size, cursor)
            yield from page
            if cursor is None or not page:
                return

    def job(self, job_id: int) -> JobInfo:
        return JobInfo.from_json(self._json("GET", f"/jobs/{int(job_id)}"))

    def stop_job(self, job_id: int) -> None:
        self.request("PUT", f"/jobs/{int(job_id)}/stop")

    def delete_job(self, job_id: int) -> None:
        self.request("DELETE", f"/jobs/{int(job_id)}")

    def progress(self, job_id: int) -> JobProgress:
        return JobProgress.from_json(self._json("GET", f"/jobs/{int(job_id)}/progress"))

    def events(self, job_id: int) -> list[JobEvent]:
        data = self._json("GET", f"/jobs/{int(job_id)}/events")
        return [JobEvent.from_json(e) for e in data["events"]]

    def event(self, job_id: int, event_id: int) -> JobEvent:
        return JobEvent.from_json(self._json("GET", f"/jobs/{int(job_id)}/events/{int(event_id)}"))
