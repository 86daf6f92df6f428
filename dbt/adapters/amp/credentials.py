"""Profile settings for `type: amp` targets.

The token never leaves this object except as the `authorization: Bearer` header: it is not a
connection key (so `dbt debug` does not print it), `__repr__` masks it, and the token resolved from
the environment or the Amp CLI login cache (auth.py, which also refreshes it) is kept off the
serialized profile.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from dbt.adapters.contracts.connection import Credentials
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.amp.auth import (
    CLI_AUTH_FILES,
    AmpLoginError,
    cached_token,
    find_login_file,
    read_login,
)

TOKEN_ENV_VAR = "AMP_AUTH_TOKEN"
QUERY_URL_SCHEMES = ("grpc", "grpc+tcp", "grpc+tls")
# A query_url without a port gets Amp's Flight port (1602) in plain text, and 443 with TLS (hosted
# Amp gateways terminate TLS on the standard HTTPS port).
DEFAULT_PORTS = {"grpc": 1602, "grpc+tcp": 1602, "grpc+tls": 443}
NAMESPACE_RE = re.compile(r"^[a-z0-9_]+$")


class AmpProfileError(DbtRuntimeError):
    """A bad `type: amp` profile. dbt wraps it as 'Credentials in profile ... invalid: <str>', so
    its text is the message alone (no second "Runtime Error" header)."""

    def __str__(self) -> str:
        return self.msg


def _mask(token: str | None) -> str:
    return "None" if not token else "'***'"


@dataclass(frozen=True, repr=False)
class TransportSettings:
    """What every Flight call of one connection sends: built once when its AmpTransport opens (so
    the Amp CLI login cache is read, and refreshed if due, once), used by both of its clients.
    `headers` names are lowercased; the token is never shown."""

    query_url: str
    token: str | None
    token_source: str
    headers: tuple[tuple[str, str], ...]
    use_tls: bool
    tls_skip_verify: bool
    tls_root_certs: str | None
    tls_override_hostname: str | None
    timeout: float | None

    def __repr__(self) -> str:
        return f"TransportSettings({self.query_url!r}, token from {self.token_source})"

    def root_certs_pem(self) -> str | None:
        if not self.tls_root_certs:
            return None
        return Path(self.tls_root_certs).expanduser().read_text()


@dataclass(repr=False)
class AmpCredentials(Credentials):
    # Amp has no databases; `amp` is the name of its default session catalog. Never rendered.
    database: str = "amp"
    # The Amp namespace that datasets registered by this project go to (`[a-z0-9_]+`).
    schema: str = ""
    # Flight endpoint: grpc://host:1602 or grpc+tls://host:443 (no port: 1602, or 443 with TLS).
    query_url: str = ""
    # Admin API: http://host:1610. Needed by `dataset` models and `dbt debug`.
    admin_url: str | None = None
    # Bearer token. If empty: env AMP_AUTH_TOKEN, then the Amp CLI login cache.
    token: str | None = None
    # true: the token comes from the Amp CLI login cache only, refreshed when it is about to
    # expire; a missing or unrefreshable login is an error (the original design's `auth: true`).
    auth: bool = False
    # The Amp auth server that refreshes CLI logins (default https://auth.amp.thegraph.com/).
    auth_url: str | None = None
    # TLS (grpc+tls:// only)
    tls_skip_verify: bool = False
    tls_root_certs: str | None = None  # path to a PEM bundle
    tls_override_hostname: str | None = None
    # Seconds per query RPC (GetFlightInfo, DoGet); empty means no limit.
    query_timeout: float | None = None
    # Connection attempts after the first one fails with a connectivity error.
    retries: int = 1
    # Extra gRPC headers for every call (e.g. {"amp-stream": "false"}). Not shown anywhere.
    headers: dict[str, str] = field(default_factory=dict)

    _ALIASES: ClassVar[dict[str, str]] = {
        "url": "query_url",
        "flight_url": "query_url",
        "auth_token": "token",
        "namespace": "schema",
        "admin_api_url": "admin_url",
    }

    @property
    def type(self) -> str:
        return "amp"

    @property
    def unique_field(self) -> str:
        return self.query_url

    def _connection_keys(self) -> tuple[str, ...]:
        # Never the token or headers.
        return (
            "query_url",
            "admin_url",
            "schema",
            "auth",
            "auth_url",
            "tls_skip_verify",
            "tls_root_certs",
            "tls_override_hostname",
            "query_timeout",
            "retries",
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._connection_keys())
        return f"AmpCredentials({shown}, token={_mask(self.token)})"

    __str__ = __repr__

    @classmethod
    def validate(cls, data: Any) -> None:
        if isinstance(data, dict):
            cls._check_keys(data)
        super().validate(data)

    @classmethod
    def _check_keys(cls, data: dict[str, Any]) -> None:
        known = {f.name for f in fields(cls)} | set(cls._ALIASES)
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            hints = []
            for key in unknown:
                match = difflib.get_close_matches(key, sorted(known), n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{match[0]}'?)" if match else ""))
            raise AmpProfileError(
                f"unknown key(s) for an amp profile: {', '.join(hints)}. Valid keys: "
                + ", ".join(sorted(f.name for f in fields(cls) if f.name != "database"))
            )
        if not data.get("query_url"):
            raise AmpProfileError(
                "'query_url' is required: the Amp Flight endpoint, e.g. "
                "query_url: grpc://localhost:1602 (or grpc+tls://host:443)"
            )

    def __post_init__(self) -> None:
        self.query_url = self._with_default_port(self.query_url)
        if self.admin_url:
            admin = urlparse(self.admin_url)
            if admin.scheme not in ("http", "https") or not admin.hostname:
                raise AmpProfileError(
                    f"admin_url {self.admin_url!r} is not an HTTP URL, e.g. http://localhost:1610"
                )
        if self.auth_url:
            auth = urlparse(self.auth_url)
            if auth.scheme not in ("http", "https") or not auth.hostname:
                raise AmpProfileError(
                    f"auth_url {self.auth_url!r} is not an HTTP URL, e.g. "
                    "https://auth.amp.thegraph.com/"
                )
        if self.auth and self.token:
            raise AmpProfileError(
                "set either `token` or `auth: true`, not both: `auth: true` takes the token from "
                "the Amp CLI login (`amp auth login`) and refreshes it"
            )
        if not self.schema:
            raise AmpProfileError(
                "'schema' is required: the Amp namespace for datasets this project registers "
                "([a-z0-9_]+, e.g. schema: my_team)"
            )
        if not NAMESPACE_RE.match(self.schema):
            raise AmpProfileError(
                f"schema {self.schema!r} is not a valid Amp namespace: use lowercase letters, "
                "digits and '_' only"
            )
        if self.retries < 0:
            raise AmpProfileError("retries must be >= 0")
        if self.tls_root_certs and not Path(self.tls_root_certs).expanduser().is_file():
            raise AmpProfileError(f"tls_root_certs: no such file {self.tls_root_certs!r}")

    @staticmethod
    def _with_default_port(query_url: str) -> str:
        bad = AmpProfileError(
            f"query_url {query_url!r} is not a Flight URL: use grpc://host:port or "
            "grpc+tls://host:port (Amp's Flight port is 1602; without a port, grpc:// means "
            "1602 and grpc+tls:// means 443)"
        )
        try:
            parsed = urlparse(query_url)
            port = parsed.port
        except ValueError:
            raise bad from None
        if parsed.scheme not in QUERY_URL_SCHEMES or not parsed.hostname:
            raise bad
        if parsed.path.strip("/") or parsed.query or parsed.fragment:
            raise bad
        if port is None:
            return f"{parsed.scheme}://{parsed.netloc}:{DEFAULT_PORTS[parsed.scheme]}"
        return query_url

    @property
    def use_tls(self) -> bool:
        return urlparse(self.query_url).scheme == "grpc+tls"

    def resolve_token(self) -> tuple[str | None, str]:
        """The bearer token and where it came from: with `auth: true` the Amp CLI login cache;
        otherwise the profile, then AMP_AUTH_TOKEN, then the login cache. A token from the login
        cache is refreshed first when it is about to expire (see auth.py)."""
        if self.auth:
            path = find_login_file()
            if path is None:
                raise AmpLoginError(
                    "The profile sets `auth: true`, but there is no Amp CLI login at "
                    f"{CLI_AUTH_FILES[0]}. Log in with `amp auth login`, or set `token` instead."
                )
            return cached_token(path, self.auth_url, required=True), str(path)
        if self.token:
            return self.token, "profile"
        env_token = os.environ.get(TOKEN_ENV_VAR, "").strip()
        if env_token:
            return env_token, f"env {TOKEN_ENV_VAR}"
        path = find_login_file()
        if path is not None:
            token = cached_token(path, self.auth_url, required=False)
            if token:
                return token, str(path)
        return None, "none"

    def token_source(self) -> str:
        """Where the token sent comes from, as `resolve_token` says, without refreshing anything
        (for error messages): "profile", "env AMP_AUTH_TOKEN", a login cache path, or "none"."""
        if not self.auth:
            if self.token:
                return "profile"
            if os.environ.get(TOKEN_ENV_VAR, "").strip():
                return f"env {TOKEN_ENV_VAR}"
        path = find_login_file()
        try:
            return str(path) if path is not None and read_login(path) is not None else "none"
        except AmpLoginError:
            return "none"

    def transport(self) -> TransportSettings:
        """The transport settings, with the token resolved now (reads, and may refresh, the Amp
        CLI login cache)."""
        token, source = self.resolve_token()
        return TransportSettings(
            query_url=self.query_url,
            token=token,
            token_source=source,
            headers=tuple((str(k).lower(), str(v)) for k, v in self.headers.items()),
            use_tls=self.use_tls,
            tls_skip_verify=self.tls_skip_verify,
            tls_root_certs=self.tls_root_certs,
            tls_override_hostname=self.tls_override_hostname,
            timeout=self.query_timeout or None,
        )
