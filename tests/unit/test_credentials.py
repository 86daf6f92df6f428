import json
import time

import pytest
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.amp.credentials import AmpCredentials


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
    assert make().resolve_token() == (None, "none")
    assert make().token_source() == "none"
    cache = tmp_path / ".amp" / "cache"
    cache.mkdir(parents=True)
    expiry = int(time.time() * 1000) + 3_600_000  # fresh: nothing to refresh
    (cache / "amp_cli_auth").write_text(
        json.dumps(
            {
                "accessToken": "from-cli",
                "refreshToken": "r",
                "userId": "u",
                "accounts": [],
                "expiry": expiry,
            }
        )
    )
    assert make().resolve_token() == ("from-cli", str(cache / "amp_cli_auth"))
    assert make().token_source() == str(cache / "amp_cli_auth")
    monkeypatch.setenv("AMP_AUTH_TOKEN", "from-env")
    assert make().resolve_token() == ("from-env", "env AMP_AUTH_TOKEN")
    assert make().token_source() == "env AMP_AUTH_TOKEN"
    assert make(token="from-profile").resolve_token() == ("from-profile", "profile")
    assert make(token="from-profile").token_source() == "profile"
    # `auth: true`: the login cache only
    assert make(auth=True).resolve_token() == ("from-cli", str(cache / "amp_cli_auth"))


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"auth": True, "token": "t"}, "set either `token` or `auth: true`, not both"),
        ({"auth_url": "auth.amp.thegraph.com"}, "auth_url 'auth.amp.thegraph.com' is not an HTTP"),
    ],
)
def test_invalid_auth_settings(kw, message):
    with pytest.raises(DbtRuntimeError, match=message):
        make(**kw)


def test_auth_settings_are_shown_by_dbt_debug():
    creds = make(auth=True, auth_url="http://127.0.0.1:9/")
    keys = creds._connection_keys()
    assert "auth" in keys and "auth_url" in keys and "token" not in keys


@pytest.mark.parametrize(
    "answers, expected",
    [
        ("\n\nteam\n1\nmy-token\n8\n", {"token": "my-token", "threads": 8}),
        ("\n\nteam\n1\n\n\n", {"token": "", "threads": 4}),
        ("\n\nteam\n2\n\n", {"auth": True, "threads": 4}),
    ],
    ids=["token", "no-token", "amp-auth-login"],
)
def test_dbt_init_profile_template(answers, expected):
    """`dbt init`'s prompts (dbt's own InitTask code, fed through click's input) give a valid
    profile for both ways to authenticate."""
    from importlib.resources import files

    import yaml
    from click.testing import CliRunner
    from dbt.task.init import InitTask

    template = yaml.safe_load((files("dbt.include.amp") / "profile_template.yml").read_text())
    task = InitTask.__new__(InitTask)  # only its prompt logic is used
    with CliRunner().isolation(input=answers):
        target = task.generate_target_from_input(template["prompts"], {})
    assert target == {
        "query_url": "grpc://localhost:1602",
        "admin_url": "http://localhost:1610",
        "schema": "team",
        **expected,
    }
    profile = {**template["fixed"], **target}
    profile.pop("type"), profile.pop("threads")
    creds = make(**profile)
    assert creds.auth is bool(expected.get("auth"))
