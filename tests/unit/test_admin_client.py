"""The Admin API client's error handling and retries.

Transport faults (a 503 burst, a malformed error body) are injected with httpx.MockTransport:
a real server cannot be made to fail on demand. Unreachable servers are real closed ports.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from dbt.adapters.amp.admin import AdminAuthError, AdminClient, AdminError, AdminUnreachable


def client(handler, **kwargs) -> AdminClient:
    return AdminClient(
        "http://amp.test:1610",
        token="s3cret",
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
        **kwargs,
    )


def test_5xx_is_retried_with_backoff_then_recovers():
    calls, delays = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503, text="upstream overloaded")
        return httpx.Response(200, json={"datasets": []})

    admin = AdminClient(
        "http://amp.test:1610", transport=httpx.MockTransport(handler), sleep=delays.append
    )
    assert admin.datasets() == []
    assert len(calls) == 3 and delays == [0.25, 0.5]


def test_amp_error_codes_are_surfaced_and_4xx_is_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        body = {"error_code": "DATASET_NOT_FOUND", "error_message": "dataset 'x/y' not found"}
        return httpx.Response(404, json=body)

    with pytest.raises(AdminError) as err:
        client(handler).dataset_info("x", "y", "dev")
    assert (err.value.code, err.value.status) == ("DATASET_NOT_FOUND", 404)
    assert "dataset 'x/y' not found" in str(err.value)
    assert "GET /datasets/x/y/versions/dev" in str(err.value)
    assert len(calls) == 1


def test_auth_failures_and_the_token_stays_out_of_messages():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer s3cret"
        return httpx.Response(401, text="unauthorized")

    admin = client(handler)
    with pytest.raises(AdminAuthError) as err:
        admin.jobs()
    assert err.value.code == "HTTP_401" and "s3cret" not in str(err.value)
    assert "s3cret" not in repr(admin)


def test_5xx_that_persists_raises_amps_code():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            500, json={"error_code": "SCHEDULER_ERROR", "error_message": "no workers"}
        )

    with pytest.raises(AdminError) as err:
        client(handler, retries=2).deploy("ns", "d", "dev", "latest")
    assert err.value.code == "SCHEDULER_ERROR"


def test_deploy_sends_end_block_as_a_string_or_null():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(202, json={"job_id": 7})

    admin = client(handler)
    assert admin.deploy("ns", "d", "1.0.0", 100) == 7
    assert admin.deploy("ns", "d", "1.0.0", None) == 7
    assert bodies == [b'{"end_block":"100"}', b'{"end_block":null}']


def test_unreachable_server_is_one_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    admin = AdminClient(f"http://127.0.0.1:{port}", retries=1, sleep=lambda s: None)
    with pytest.raises(AdminUnreachable) as err:
        admin.healthz()
    assert err.value.code == "UNREACHABLE"
    assert f"127.0.0.1:{port}" in str(err.value) and "admin_url" in str(err.value)
