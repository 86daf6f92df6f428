"""A small local stand-in for Amp's auth server (`POST /api/v1/auth/refresh`), for the login
refresh tests.

It checks requests the way the real server's contract reads (bearer access token, JSON
`{refresh_token, user_id}`), answers like it (`{token, refresh_token, session_update_action,
expires_in, user: {id, accounts}}`, 401 with `error_description` for an unknown refresh token) and
records every request. `mode` switches it to the failures a test needs: "forbidden" (403),
"rate_limit" (429 with `retry-after` for the first `rate_limited` requests), "mismatch" (another
user's token), "not_json", "server_error" (500).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REFRESH_PATH = "/api/v1/auth/refresh"
USER_ID = "cmfd6bf6u006vjx0b7xb2eybx"  # the shape of a real Amp user id
OTHER_USER_ID = "cq1w2e3r4t5y6u7i8o9p0a1s2"
ACCOUNTS = [USER_ID, "0x5c8fA0bDf68C915a88cD68291fC7CF011C126C29"]


@dataclass
class AuthServer:
    """Refresh tokens it accepts (refresh token -> user id), what it answers, what it saw."""

    issue_token: str = "fresh-access-token"
    rotate_to: str | None = "rotated-refresh-token"  # None: answers refresh_token null
    expires_in: int = 3600
    mode: str = "ok"
    retry_after: str | None = "1"
    rate_limited: int = 1
    delay: float = 0.0  # seconds before answering: widens the window for concurrent callers
    valid: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> AuthServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": raw}
                )
                if server.delay:
                    time.sleep(server.delay)
                status, body, headers = server.answer(self.path, self.headers, raw)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def refreshes(self) -> int:
        return len(self.requests)

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        if path != REFRESH_PATH:
            return 404, {"error": "not_found"}, {}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "invalid_request", "error_description": "body is not JSON"}, {}
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not isinstance(body, dict):
            return 400, {"error": "invalid_request", "error_description": "bad request"}, {}
        if self.mode == "rate_limit" and self.refreshes <= self.rate_limited:
            extra = {} if self.retry_after is None else {"retry-after": self.retry_after}
            return 429, {"error": "slow_down", "error_description": "Too many requests"}, extra
        if self.mode == "forbidden":
            return 403, {"error": "forbidden", "error_description": "Account suspended"}, {}
        if self.mode == "server_error":
            return 500, {"error": "server_error", "error_description": "Database unavailable"}, {}
        if self.mode == "not_json":
            return 200, b"<html>a captive portal</html>", {}
        user = self.valid.get(body.get("refresh_token"))
        if user is None or user != body.get("user_id"):
            return (
                401,
                {"error": "invalid_grant", "error_description": "Refresh token expired"},
                {},
            )
        return (
            200,
            {
                "token": self.issue_token,
                "refresh_token": self.rotate_to,
                "session_update_action": "set",
                "expires_in": self.expires_in,
                "user": {
                    "id": OTHER_USER_ID if self.mode == "mismatch" else user,
                    "accounts": ACCOUNTS,
                },
            },
            {},
        )


def write_login(path, **fields: Any) -> dict[str, Any]:
    """Write an Amp CLI login cache (the CLI's JSON) to `path`; returns what was written."""
    data = {
        "accessToken": "stale-access-token",
        "refreshToken": "refresh-1",
        "userId": USER_ID,
        "accounts": ACCOUNTS,
        "expiry": int(time.time() * 1000) - 60_000,  # expired a minute ago
        **fields,
    }
    data = {k: v for k, v in data.items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data
