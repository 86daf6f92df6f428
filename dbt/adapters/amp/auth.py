"""The Amp CLI's login cache, read and refreshed the way Amp's CLI does it.

`amp auth login` writes `~/.amp/cache/amp_cli_auth`: JSON `{accessToken, refreshToken, userId,
accounts, expiry}` with `expiry` in ms since the epoch. Hosted Amp's access tokens live about an
hour, so, like the CLI (edgeandnode/amp, typescript `Auth.ts`: `getCachedAuthInfo` and
`refreshAccessToken`), a login whose `expiry` is missing, past or less than 5 minutes away, or that
has no `accounts`, is refreshed first: `POST <auth_url>/api/v1/auth/refresh` with the access token as
bearer and `{"refresh_token", "user_id"}`, answered with `{token, refresh_token (null: keep the old
one), expires_in (s), user: {id, accounts}}`. The cache is then rewritten in the CLI's format,
atomically and readable by its owner only.

One process-wide lock covers reading, refreshing and rewriting, and the cache is read again under
it: of 8 threads opening connections at once, the first refreshes and the others read the fresh
login. The outcome of a refresh, new login or error, is remembered for the login it started from,
so the auth server is asked once per login, not once per connection (nor again when the new login
could not be saved).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import DbtRuntimeError

logger = AdapterLogger("Amp")

# Amp's CLI writes the first; its older TypeScript CLI kept the same JSON in the second.
CLI_AUTH_FILES = (
    Path("~/.amp/cache/amp_cli_auth"),
    Path("~/.amp-cli-config/amp_cli_auth"),
)
DEFAULT_AUTH_URL = "https://auth.amp.thegraph.com/"
REFRESH_PATH = "api/v1/auth/refresh"
REFRESH_MARGIN_MS = 5 * 60 * 1000  # refresh when the token expires within 5 minutes
REQUEST_TIMEOUT_S = 15.0  # the CLI's timeout for the refresh request
DEFAULT_RETRY_AFTER_S = 60  # the CLI's wait when a 429 carries no usable retry-after
MAX_RATE_LIMIT_WAIT_S = 10.0  # longer waits fail with a message instead of stalling dbt
MAX_ATTEMPTS = 3
LOGIN_AGAIN = "Log in again with `amp auth login`"

_LOCK = threading.Lock()
# Per (cache file, login fingerprint): the refresh's outcome in this process, so a login is sent
# to the auth server once even if its new version could not be saved.
_REFRESHED: dict[tuple[str, str], CliLogin] = {}
_FAILED: dict[tuple[str, str], str] = {}
_WARNED: set[str] = set()


class AmpLoginError(DbtRuntimeError):
    """The Amp CLI login cannot give a usable token. Its text is the whole message."""

    def __str__(self) -> str:
        return self.msg


@dataclass(frozen=True, repr=False)
class CliLogin:
    """One Amp CLI login, as the cache file holds it. Never shown: `repr` names the user only."""

    access_token: str
    refresh_token: str | None = None
    user_id: str | None = None
    accounts: tuple[str, ...] | None = None
    expiry: int | None = None  # ms since the epoch

    def __repr__(self) -> str:
        return f"CliLogin(user_id={self.user_id!r}, expiry={self.expiry!r})"

    def needs_refresh(self, now_ms: int) -> bool:
        """The CLI's rule: no expiry or no accounts yet, expired, or expiring within 5 minutes."""
        return (
            self.expiry is None
            or self.accounts is None
            or self.expiry - now_ms <= REFRESH_MARGIN_MS
        )

    @property
    def fingerprint(self) -> str:
        """Identifies this login's tokens (for remembering a failed refresh) without keeping them."""
        secret = f"{self.access_token}\0{self.refresh_token}".encode()
        return hashlib.sha256(secret).hexdigest()

    def to_cache_json(self) -> str:
        """The CLI's format: its keys, in its order, without the optional ones that are unset."""
        data: dict[str, Any] = {
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "userId": self.user_id,
            "accounts": None if self.accounts is None else list(self.accounts),
            "expiry": self.expiry,
        }
        return json.dumps({k: v for k, v in data.items() if v is not None}, separators=(",", ":"))


def _now_ms() -> int:
    return int(time.time() * 1000)


def find_login_file() -> Path | None:
    """The first Amp CLI login cache that exists, expanded."""
    for path in CLI_AUTH_FILES:
        expanded = path.expanduser()
        if expanded.is_file():
            return expanded
    return None


def _corrupt(path: Path, detail: str) -> AmpLoginError:
    return AmpLoginError(
        f"The Amp CLI login cache {path} is not a valid login ({detail}). {LOGIN_AGAIN}, or "
        "delete the file."
    )


def _optional_str(data: dict, key: str, path: Path) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _corrupt(path, f"`{key}` is not a non-empty string")
    return value.strip()


def read_login(path: Path) -> CliLogin | None:
    """The login in `path`; None when the file does not exist. A file that is not a CLI login
    (not JSON, no `accessToken`, wrong field types) raises AmpLoginError naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AmpLoginError(
            f"Cannot read the Amp CLI login cache {path}: {exc.strerror or exc}."
        ) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise _corrupt(path, "not JSON") from None
    if not isinstance(data, dict):
        raise _corrupt(path, "not a JSON object")
    access_token = _optional_str(data, "accessToken", path)
    if access_token is None:
        raise _corrupt(path, "no `accessToken`")
    accounts = data.get("accounts")
    if accounts is not None and not (
        isinstance(accounts, list) and all(isinstance(a, str) for a in accounts)
    ):
        raise _corrupt(path, "`accounts` is not a list of strings")
    expiry = data.get("expiry")
    if expiry is not None and (
        isinstance(expiry, bool) or not isinstance(expiry, (int, float)) or expiry <= 0
    ):
        raise _corrupt(path, "`expiry` is not a positive number of milliseconds")
    return CliLogin(
        access_token=access_token,
        refresh_token=_optional_str(data, "refreshToken", path),
        user_id=_optional_str(data, "userId", path),
        accounts=None if accounts is None else tuple(accounts),
        expiry=None if expiry is None else int(expiry),
    )


def save_login(path: Path, login: CliLogin) -> None:
    """Replace `path` with `login` in one step (a temp file in the same directory, then
    os.replace), mode 0600: a concurrent reader sees the old login or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(login.to_cache_json())
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def refresh_url(auth_url: str) -> str:
    return auth_url.rstrip("/") + "/" + REFRESH_PATH


def _error_description(response: httpx.Response) -> str:
    """The auth server's `error_description`, or the CLI's generic text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error_description"), str):
        return body["error_description"]
    return "Failed to refresh token"


def _retry_after(response: httpx.Response) -> int:
    """Seconds from `retry-after` (an integer, as the CLI reads it), else the CLI's 60."""
    try:
        return max(0, int(response.headers.get("retry-after", "")))
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


def _post_refresh(login: CliLogin, url: str, sleep: Callable[[float], None]) -> httpx.Response:
    """POST the refresh request; a 429 is retried after `retry-after` while the total wait stays
    within MAX_RATE_LIMIT_WAIT_S."""
    headers = {"authorization": f"Bearer {login.access_token}", "accept": "application/json"}
    body = {"refresh_token": login.refresh_token, "user_id": login.user_id}
    waited = 0.0
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = client.post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                raise AmpLoginError(
                    f"The Amp auth server at {url} did not answer within "
                    f"{REQUEST_TIMEOUT_S:g} s. Check `auth_url` in the profile and your network."
                ) from None
            except httpx.HTTPError as exc:
                raise AmpLoginError(
                    f"Could not reach the Amp auth server at {url} ({type(exc).__name__}: {exc}). "
                    "Check `auth_url` in the profile and your network."
                ) from None
            if response.status_code != 429:
                return response
            wait = _retry_after(response)
            if attempt == MAX_ATTEMPTS or waited + wait > MAX_RATE_LIMIT_WAIT_S:
                raise AmpLoginError(
                    f"The Amp auth server at {url} is rate-limiting token refreshes "
                    f"({_error_description(response)}); it asks to retry in {wait} s. Run dbt "
                    "again after that."
                )
            logger.info(
                f"The Amp auth server is rate-limiting token refreshes; retrying in {wait} s"
            )
            sleep(wait)
            waited += wait
    raise AssertionError("unreachable")  # the loop returns or raises


def _refreshed(login: CliLogin, url: str, response: httpx.Response) -> CliLogin:
    """The new login from a 2xx refresh answer (the CLI's RefreshTokenResponse)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    user = data.get("user") if isinstance(data, dict) else None
    token = data.get("token") if isinstance(data, dict) else None
    new_refresh = data.get("refresh_token") if isinstance(data, dict) else None
    expires_in = data.get("expires_in") if isinstance(data, dict) else None
    accounts = user.get("accounts") if isinstance(user, dict) else None
    user_id = user.get("id") if isinstance(user, dict) else None
    if not (
        isinstance(token, str)
        and token.strip()
        and (new_refresh is None or isinstance(new_refresh, str))
        and isinstance(expires_in, int)
        and not isinstance(expires_in, bool)
        and expires_in > 0
        and isinstance(user_id, str)
        and isinstance(accounts, list)
        and all(isinstance(a, str) for a in accounts)
    ):
        raise AmpLoginError(
            f"The Amp auth server at {url} answered the token refresh with something that is not "
            "a refresh response ({token, refresh_token, expires_in, user: {id, accounts}}). "
            "Check `auth_url` in the profile."
        )
    if user_id != login.user_id:
        raise AmpLoginError(
            f"The Amp auth server at {url} refreshed the login for user {user_id!r}, but the "
            f"cached login belongs to {login.user_id!r}; the new token was not used or saved. "
            f"{LOGIN_AGAIN}."
        )
    return CliLogin(
        access_token=token.strip(),
        refresh_token=new_refresh or login.refresh_token,
        user_id=user_id,
        accounts=tuple(accounts),
        expiry=_now_ms() + expires_in * 1000,
    )


def refresh_login(
    login: CliLogin, auth_url: str, sleep: Callable[[float], None] = time.sleep
) -> CliLogin:
    """Exchange the login's refresh token for a new access token at the Amp auth server."""
    url = refresh_url(auth_url)
    response = _post_refresh(login, url, sleep)
    status = response.status_code
    if status in (401, 403):
        reason = "401 Unauthorized" if status == 401 else "403 Forbidden"
        raise AmpLoginError(
            f"The Amp auth server at {url} refused to refresh the login ({reason}: "
            f"{_error_description(response)}): the login has expired or was revoked. "
            f"{LOGIN_AGAIN}."
        )
    if not 200 <= status < 300:
        raise AmpLoginError(
            f"The Amp auth server at {url} could not refresh the login (HTTP {status}: "
            f"{_error_description(response)}). Try again later; if it persists, log in again "
            "with `amp auth login`."
        )
    return _refreshed(login, url, response)


def _fresh_token(path: Path, login: CliLogin, auth_url: str) -> str:
    """The login's access token, refreshed (and the cache rewritten) when it is due."""
    if not login.needs_refresh(_now_ms()):
        return login.access_token
    if not (login.refresh_token and login.user_id):
        raise AmpLoginError(
            f"The Amp CLI login in {path} needs a refresh (it has expired, or lacks `expiry` or "
            f"`accounts`) but holds no `refreshToken` and `userId` to refresh it with. "
            f"{LOGIN_AGAIN}."
        )
    key = (str(path), login.fingerprint)
    if key in _FAILED:
        raise AmpLoginError(_FAILED[key])
    done = _REFRESHED.get(key)
    if done is not None and not done.needs_refresh(_now_ms()):
        return done.access_token
    try:
        fresh = refresh_login(login, auth_url)
    except AmpLoginError as exc:
        _FAILED[key] = f"Refreshing the Amp CLI login in {path} failed. {exc.msg}"
        raise AmpLoginError(_FAILED[key]) from None
    _REFRESHED[key] = fresh
    try:
        save_login(path, fresh)
    except OSError as exc:
        _warn_once(
            f"Refreshed the Amp CLI login but could not save it to {path} "
            f"({exc.strerror or exc}); this run uses it, the next one refreshes it again."
        )
    else:
        logger.debug(f"Refreshed the Amp CLI login in {path} for user {fresh.user_id}")
    return fresh.access_token


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        logger.warning(message)


def cached_token(path: Path, auth_url: str | None = None, required: bool = True) -> str | None:
    """The access token of the Amp CLI login in `path`, refreshed first when it is due; None if
    there is no such file.

    `required` (profile `auth: true`): a login that cannot give a fresh token raises
    AmpLoginError. Otherwise (the cache is only the last fallback) the problem is logged once and
    the cached token is used as it is, or none if the file is not a login.
    """
    with _LOCK:
        try:
            login = read_login(path)
        except AmpLoginError as exc:
            if required:
                raise
            _warn_once(f"{exc} Sending no token from it.")
            return None
        if login is None:
            return None
        try:
            return _fresh_token(path, login, auth_url or DEFAULT_AUTH_URL)
        except AmpLoginError as exc:
            if required:
                raise
            _warn_once(
                f"{exc} Sending the cached token as it is (set `auth: true` in the profile to "
                "make this an error)."
            )
            return login.access_token
