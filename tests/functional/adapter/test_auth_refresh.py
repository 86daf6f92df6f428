"""`auth: true` end to end: dbt refreshes an expired Amp CLI login at a local auth server and sends
the refreshed token to an `amp_local` that enforces it (`--token`), once for all 8 threads, and no
token reaches dbt's output, logs/ or target/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from dbt.adapters.factory import reset_adapters
from dbt.cli.main import dbtRunner

from tests.auth_server import USER_ID, write_login

MODELS = 8  # one query model per thread
SECRETS = ("stale-access-token", "refresh-1", "refresh-2", "refresh-3", "rotated-refresh-token")


def run_dbt(root: Path, target: dict, args: list[str]) -> tuple[bool, str]:
    """dbt in-process on a project of MODELS query models; (success, everything it reported)."""
    project = {
        "name": "auth_refresh",
        "version": "1.0",
        "profile": "auth_refresh",
        "models": {"auth_refresh": {"+materialized": "query"}},
    }
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project))
    for i in range(MODELS):
        (root / "models" / f"m{i}.sql").write_text(f"select {i} as n")
    profile = {"auth_refresh": {"target": "dev", "outputs": {"dev": {"type": "amp", **target}}}}
    (root / "profiles.yml").write_text(yaml.safe_dump(profile))
    messages: list[str] = []
    runner = dbtRunner(callbacks=[lambda event: messages.append(event.info.msg)])
    try:
        result = runner.invoke([*args, "--project-dir", str(root), "--profiles-dir", str(root)])
    finally:
        reset_adapters()  # dbt keeps the adapter (and this profile) registered in the process
    output = "\n".join(str(m) for m in messages)
    if result.exception is not None:
        output += "\n" + str(result.exception)
    return result.success, output


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME of its own (the login cache lives there) and no token in the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AMP_AUTH_TOKEN", raising=False)
    return home


def assert_no_secrets(root: Path, texts: list[str], secrets: tuple[str, ...]) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, secret
        for path in root.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), (secret, path)


def test_dbt_sends_the_refreshed_token(tmp_path, home, amp_server_with_token, auth_server, capfd):
    enforced = amp_server_with_token.token  # the only token this Amp accepts
    auth_server.issue_token = enforced
    auth_server.valid.update({f"refresh-{n}": USER_ID for n in (1, 2, 3)})
    auth_server.delay = 0.2  # the refresh is still in flight when the other threads connect
    cache = home / ".amp" / "cache" / "amp_cli_auth"
    root = tmp_path / "project"
    base = {"query_url": amp_server_with_token.flight_url, "schema": "auth", "retries": 0}
    target = {**base, "auth": True, "auth_url": auth_server.url, "threads": MODELS}

    # control: the cached (stale) token alone is refused by this server
    ok, output = run_dbt(root, {**base, "token": "stale-access-token"}, ["debug"])
    assert not ok and "refused the credentials (UNAUTHENTICATED)" in output
    assert auth_server.refreshes == 0

    write_login(cache)
    outputs = []
    ok, output = run_dbt(root, target, ["--debug", "debug"])
    outputs.append(output)
    assert ok, output
    assert "auth: True" in output and f"auth_url: {auth_server.url}" in output
    assert auth_server.refreshes == 1
    saved = json.loads(cache.read_text())
    assert saved["accessToken"] == enforced and saved["refreshToken"] == "rotated-refresh-token"

    # another expired login: `dbt run --threads 8` refreshes it once for all its connections
    write_login(cache, accessToken="stale-access-token-2", refreshToken="refresh-2")
    ok, output = run_dbt(root, target, ["--debug", "run", "--threads", str(MODELS)])
    outputs.append(output)
    assert ok, output
    assert output.count(" OK ") >= MODELS or f"PASS={MODELS}" in output, output
    assert auth_server.refreshes == 2
    assert json.loads(cache.read_text())["accessToken"] == enforced

    # no `auth: true`, no other token: the login cache is the fallback and is refreshed too
    write_login(cache, accessToken="stale-access-token-3", refreshToken="refresh-3")
    ok, output = run_dbt(root, {**base, "auth_url": auth_server.url}, ["run", "-s", "m0"])
    outputs.append(output)
    assert ok, output
    assert auth_server.refreshes == 3

    captured = capfd.readouterr()
    assert (root / "logs" / "dbt.log").stat().st_size > 0 and (root / "target").is_dir()
    # the project directory (target/, logs/) and all output: no token, old or new. (profiles.yml
    # there holds no token either: `auth: true` reads it from the login cache in HOME.)
    assert_no_secrets(root, [*outputs, captured.out, captured.err], (*SECRETS, enforced))


def test_expired_refresh_token_asks_to_log_in_again(
    tmp_path, home, amp_server_with_token, auth_server, capfd
):
    """The auth server no longer knows the refresh token (401): `dbt debug` and `dbt run` fail
    with one clear message, and nothing is sent to Amp with a stale token."""
    cache = home / ".amp" / "cache" / "amp_cli_auth"
    write_login(cache)
    written = cache.read_text()
    root = tmp_path / "project"
    target = {
        "query_url": amp_server_with_token.flight_url,
        "schema": "auth",
        "retries": 0,
        "auth": True,
        "auth_url": auth_server.url,
    }
    expected = (
        f"Refreshing the Amp CLI login in {cache} failed. The Amp auth server at "
        f"{auth_server.url}api/v1/auth/refresh refused to refresh the login (401 Unauthorized: "
        "Refresh token expired): the login has expired or was revoked. Log in again "
        "with `amp auth login`."
    )
    outputs = []
    for args in (["debug"], ["run", "-s", "m0", "m1"]):
        ok, output = run_dbt(root, target, args)
        outputs.append(output)
        assert not ok
        assert expected in output, output
        assert "Traceback" not in output
    assert auth_server.refreshes == 1  # asked once in the process, not once per connection
    assert cache.read_text() == written
    captured = capfd.readouterr()
    assert_no_secrets(root, [*outputs, captured.out, captured.err], SECRETS)
