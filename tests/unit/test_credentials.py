import json
import time

import pytest
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.amp import credentials as credentials_module
from dbt.adapters.amp.credentials import AmpCredentials, read_cli_auth_file, resolve_token


def make(**kw):
    data = {"query_url": "grpc://localhost:1602", "schema": "team", **kw}
    if "url" in kw:
        del data["query_url"]
    if "namespace" in kw:
        del data["schema"]
    data = AmpCredentials.translate_aliases(data)
    AmpCredentials.validate(data)
    return AmpCredentials.from_dict(data)


def test_defaults_and_aliases():
    creds = make(url="grpc+tls://amp.example:443", auth_token="tok", namespace="ns")
    assert creds.query_url == "grpc+tls://amp.example:443" and creds.use_tls
    assert creds.schema == "ns" and creds.token == "tok" and creds.type == "amp"
    assert creds.unique_field == "grpc+tls://amp.example:443"


def test_repr_masks_the_token():
    creds = make(token="super-secret-value", headers={"x-api-key": "also-secret"})
    assert "token" not in creds._connection_keys() and "headers" not in creds._connection_keys()
    assert "super-secret-value" not in repr(creds) + str(creds)
    assert "also-secret" not in repr(creds) + str(creds)
    # the real check (dbt output, logs/ and target/) is functional:
    # tests/functional/adapter/test_errors.py::test_secrets_never_shown


@pytest.mark.parametrize(
    "url,expected",
    [
        ("grpc://amp.example", "grpc://amp.example:1602"),
        ("grpc+tcp://amp.example/", "grpc+tcp://amp.example:1602"),
        ("grpc+tls://amp.example", "grpc+tls://amp.example:443"),
        ("grpc+tls://amp.example:8443", "grpc+tls://amp.example:8443"),
        ("grpc://[::1]", "grpc://[::1]:1602"),
    ],
)
def test_default_ports(url, expected):
    assert make(query_url=url).query_url == expected


def test_profile_errors_read_once():
    """dbt wraps credential errors as 'Credentials in profile ... invalid: <str(error)>'."""
    with pytest.raises(DbtRuntimeError) as exc:
        make(retries=-1)
    assert str(exc.value) == "retries must be >= 0"


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"quer_url": "x"}, "did you mean 'query_url'"),
        ({"query_url": "http://h:1"}, "not a Flight URL"),
        ({"query_url": "grpc://h:x"}, "not a Flight URL"),
        ({"query_url": "grpc://h:1602/path"}, "not a Flight URL"),
        ({"schema": ""}, "'schema' is required"),
        ({"schema": "My-NS"}, "not a valid Amp namespace"),
        ({"admin_url": "grpc://h:1"}, "not an HTTP URL"),
        ({"retries": -1}, "retries must be >= 0"),
        ({"tls_root_certs": "/nonexistent.pem"}, "no such file"),
    ],
)
def test_invalid(kw, message):
    with pytest.raises(DbtRuntimeError, match=message):
        make(**kw)


def test_token_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AMP_AUTH_TOKEN", raising=False)
    assert resolve_token(None) == (None, "none")
    cache = tmp_path / ".amp" / "cache"
    cache.mkdir(parents=True)
    expiry = int(time.time() * 1000) + 3_600_000
    (cache / "amp_cli_auth").write_text(
        json.dumps(
            {"accessToken": "from-cli", "refreshToken": "r", "userId": "u", "expiry": expiry}
        )
    )
    assert resolve_token(None)[0] == "from-cli"
    monkeypatch.setenv("AMP_AUTH_TOKEN", "from-env")
    assert resolve_token(None) == ("from-env", "env AMP_AUTH_TOKEN")
    assert resolve_token("from-profile") == ("from-profile", "profile")


def test_cli_auth_file_formats(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(credentials_module.logger, "warning", warnings.append)
    path = tmp_path / "amp_cli_auth"
    path.write_text("plain-token\n")
    assert read_cli_auth_file(path) == "plain-token"
    path.write_text('{"accessToken": "  "}')
    assert read_cli_auth_file(path) is None
    assert warnings == []
    path.write_text("{not json")
    assert read_cli_auth_file(path) is None
    assert len(warnings) == 1 and "not valid JSON" in warnings[0]
    expiry = int(time.time() * 1000) + 3_600_000
    path.write_text(json.dumps({"accessToken": "fresh", "expiry": expiry}))
    assert read_cli_auth_file(path) == "fresh"
    assert len(warnings) == 1  # not expired: no warning
    path.write_text(
        '{"accessToken": "expired-tok-123", "expiry": 1}'
    )  # expired: still used, with a warning
    assert read_cli_auth_file(path) == "expired-tok-123"
    assert len(warnings) == 2 and "has expired" in warnings[1] and "ampctl login" in warnings[1]
    assert "expired-tok-123" not in warnings[1]
    assert read_cli_auth_file(tmp_path / "missing") is None
