"""Bad inputs: each one a clear message and a non-zero exit, and the token never leaks."""

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from dbt.cli.main import dbtRunner

from tests.functional.adapter.projects import sources_yml

TOKEN = "s3cret-test-token"
PROJECT = {
    "name": "errs",
    "version": "1.0",
    "profile": "errs",
    "models": {"errs": {"+materialized": "ephemeral"}},
}
SOURCES = sources_yml("eth", "_/eth_firehose@0.0.0", "blocks", "no_such_table")
MODELS = {
    "ok.sql": "{{ config(materialized='query') }}\nselect count(*) as n from {{ source('eth', 'blocks') }}",
    "bad_sql.sql": "{{ config(materialized='query') }}\nselec 1",
    "bad_column.sql": "{{ config(materialized='query') }}\n"
    "select nope from {{ source('eth', 'blocks') }}",
    "missing_table.sql": "{{ config(materialized='query') }}\n"
    "select * from {{ source('eth', 'no_such_table') }}",
    "sources.yml": SOURCES,
}


def invoke(tmp_path: Path, target: dict, args: list[str]) -> tuple[bool, str]:
    """Run dbt in-process on a small project with `target` as its profile; (success, output)."""
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "dbt_project.yml").write_text(yaml.safe_dump(PROJECT))
    for name, text in MODELS.items():
        (tmp_path / "models" / name).write_text(text)
    profile = {"errs": {"target": "dev", "outputs": {"dev": {"type": "amp", **target}}}}
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(profile))
    messages: list[str] = []
    runner = dbtRunner(callbacks=[lambda event: messages.append(event.info.msg)])
    dirs = ["--project-dir", str(tmp_path), "--profiles-dir", str(tmp_path)]
    result = runner.invoke([*args, *dirs])
    output = "\n".join(str(m) for m in messages)
    if result.exception is not None:
        output += "\n" + str(result.exception)
    if result.result is not None and hasattr(result.result, "results"):
        output += "\n" + "\n".join(str(r.message) for r in result.result.results)
    return result.success, output


def assert_no_token(tmp_path: Path, output: str) -> None:
    assert TOKEN not in output
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "profiles.yml":
            assert TOKEN not in path.read_text(errors="ignore"), path


@pytest.fixture
def target(amp_server):
    return {"query_url": amp_server.flight_url, "schema": "errs", "threads": 2, "retries": 0}


def test_sql_errors_keep_server_message(tmp_path, target):
    ok, output = invoke(tmp_path, target, ["run", "-s", "bad_sql", "bad_column", "missing_table"])
    assert not ok
    assert "ParserError" in output and "SELEC" in output.upper()
    assert "No field named nope" in output
    assert "no_such_table" in output and "not found" in output


@pytest.mark.parametrize(
    "change,expected",
    [
        (
            {"quer_url": "grpc://x:1"},
            "unknown key(s) for an amp profile: 'quer_url' (did you mean 'query_url'?)",
        ),
        ({"tokne": "x"}, "'tokne' (did you mean 'token'?)"),
        ({"query_url": None}, "'query_url' is required"),
        ({"query_url": "http://localhost:1602"}, "is not a Flight URL"),
        ({"schema": "Bad-Namespace"}, "not a valid Amp namespace"),
        ({"retries": -1}, 'target "dev" invalid: retries must be >= 0'),
    ],
    ids=["typo-query_url", "typo-token", "missing-query_url", "http-url", "bad-schema", "retries"],
)
def test_bad_profiles(tmp_path, target, change, expected):
    target = {**target, **change}
    target = {
        k: v
        for k, v in target.items()
        if v is not None and not (k == "query_url" and "quer_url" in target)
    }
    ok, output = invoke(tmp_path, target, ["debug"])
    assert not ok
    assert expected in output
    assert output.count("Runtime Error") <= 1, output  # one header, not one per wrapping


def test_unreachable_server(tmp_path, target):
    target = {**target, "query_url": "grpc://127.0.0.1:1", "token": TOKEN}
    ok, output = invoke(tmp_path, target, ["run", "-s", "ok"])
    assert not ok
    assert "Could not reach Amp at grpc://127.0.0.1:1" in output
    assert_no_token(tmp_path, output)


def test_query_models_retry_unreachable_server(tmp_path, target):
    """`retries` applies to query models (the Flight path) as to every other query: one retry
    with backoff, then the connectivity error."""
    target = {**target, "query_url": "grpc://127.0.0.1:1", "retries": 1}
    ok, output = invoke(tmp_path, target, ["--debug", "run", "-s", "ok"])
    assert not ok
    assert "Could not reach Amp at grpc://127.0.0.1:1" in output
    assert output.count("Amp unreachable, retry 1/1") == 1, output
    assert "retry 2/" not in output


def test_wrong_and_right_token(tmp_path, amp_server_with_token, monkeypatch):
    monkeypatch.delenv("AMP_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no Amp CLI login cache
    base = {"query_url": amp_server_with_token.flight_url, "schema": "errs", "retries": 0}
    ok, output = invoke(tmp_path, {**base, "token": "wrong-token"}, ["debug"])
    assert not ok and "refused the credentials (UNAUTHENTICATED)" in output
    assert "The token sent came from the profile's `token`" in output
    ok, output = invoke(tmp_path, base, ["debug"])
    assert not ok and "AMP_AUTH_TOKEN" in output
    assert "No token was sent" in output
    monkeypatch.setenv("AMP_AUTH_TOKEN", "wrong-env-token")
    ok, output = invoke(tmp_path, base, ["run", "-s", "ok"])
    assert not ok and "came from the AMP_AUTH_TOKEN environment variable" in output
    assert "wrong-env-token" not in output
    # the token from the environment, then from the Amp CLI login cache
    monkeypatch.setenv("AMP_AUTH_TOKEN", TOKEN)
    ok, output = invoke(tmp_path, base, ["debug"])
    assert ok, output
    monkeypatch.delenv("AMP_AUTH_TOKEN")
    cache = tmp_path / ".amp" / "cache"
    cache.mkdir(parents=True)
    fresh = int(time.time() * 1000) + 3_600_000  # not due for a refresh (tests/unit/test_auth.py)
    (cache / "amp_cli_auth").write_text(
        json.dumps(
            {
                "accessToken": TOKEN,
                "refreshToken": "r",
                "userId": "u",
                "accounts": [],
                "expiry": fresh,
            }
        )
    )
    ok, output = invoke(tmp_path, base, ["run", "-s", "ok"])
    (cache / "amp_cli_auth").unlink()
    assert ok, output
    assert_no_token(tmp_path, output)
    ok, output = invoke(tmp_path, {**base, "token": TOKEN}, ["debug"])
    assert ok, output
    assert_no_token(tmp_path, output)


def test_secrets_never_shown(tmp_path, amp_server_with_token, monkeypatch, capfd):
    """The token (from the environment, as the README recommends) and a secret header appear
    nowhere: not in dbt's console output, not in logs/ or target/, not even with --debug."""
    header_secret = "hdr-secret-4711"
    monkeypatch.setenv("AMP_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("AMP_TEST_HEADER", header_secret)
    target = {
        "query_url": amp_server_with_token.flight_url,
        "schema": "errs",
        "retries": 0,
        "token": "{{ env_var('AMP_AUTH_TOKEN') }}",
        "headers": {"x-api-key": "{{ env_var('AMP_TEST_HEADER') }}"},
    }
    outputs = []
    for args in (["--debug", "debug"], ["--debug", "run", "-s", "ok"]):
        ok, output = invoke(tmp_path, target, args)
        assert ok, output
        outputs.append(output)
    captured = capfd.readouterr()
    assert "1 of 1 OK" in captured.out + "\n".join(outputs)  # the run really happened
    assert (tmp_path / "logs" / "dbt.log").stat().st_size > 0
    for secret in (TOKEN, header_secret):
        for text in (*outputs, captured.out, captured.err):
            assert secret not in text
        for path in tmp_path.rglob("*"):  # profiles.yml included: it holds env_var() calls
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_unknown_source(tmp_path, target):
    MODELS_BAD = "select * from {{ source('eth', 'nope') }}"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "uses_unknown.sql").write_text(MODELS_BAD)
    ok, output = invoke(tmp_path, target, ["compile"])
    assert not ok
    assert "source named 'eth.nope' which was not found" in output
    os.remove(tmp_path / "models" / "uses_unknown.sql")
