"""Who may see the dashboard: the shared password (scrypt), OIDC through st.login, a proxy's trusted
header; and ``redline dashboard`` refusing a non-loopback address without one of them."""

from __future__ import annotations

import hashlib
import io
import socket
import tomllib
from ipaddress import ip_network
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from redline.agent.cli import main
from redline.config.dashboard import OidcAuth, TrustedHeaderAuth
from redline.dashboard.auth import trusted_user
from redline.dashboard.launch import is_loopback, oidc_secrets_toml
from redline.dashboard.passwords import hash_password, verify_password
from redline.kernel.errors import ConfigError
from tests.dashboard.fleet import AT_S, write_fleet

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
HASH_ENV = "REDLINE_TEST_DASHBOARD_HASH"


def with_auth(tmp_path: Path, auth_yaml: str) -> Path:
    config = write_fleet(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + f"dashboard:\n  auth:\n{auth_yaml}", encoding="utf-8")
    return config


def overview(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("REDLINE_CONFIG", str(config))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(at=str(AT_S))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def shows_data(app: AppTest) -> bool:
    return any("What breaks first?" in a.value for a in [*app.error, *app.warning, *app.success, *app.info])


def test_a_password_hash_is_scrypt_with_its_parameters_and_verifies_only_the_password() -> None:
    salt = bytes(range(16))
    encoded = hash_password("correct horse", salt=salt)
    key = hashlib.scrypt(b"correct horse", salt=salt, n=2**14, r=8, p=1, dklen=32)
    assert encoded.split("$")[:4] == ["scrypt", "16384", "8", "1"]
    assert encoded.split("$")[5] == __import__("base64").b64encode(key).decode()
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horse ", encoded)
    assert hash_password("correct horse") != hash_password("correct horse")  # a fresh salt each time
    with pytest.raises(ValueError, match="not an scrypt hash"):
        verify_password("x", "pbkdf2$1$2")


def test_the_password_gate_shows_nothing_until_the_password_is_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HASH_ENV, hash_password("s3cret"))
    app = overview(with_auth(tmp_path, f"    password: {{hash_env: {HASH_ENV}}}\n"), monkeypatch)
    assert not shows_data(app) and not app.dataframe

    app.text_input[0].input("wrong")
    app.button[0].click().run()  # the form's submit button
    assert [e.value for e in app.error] == ["Wrong password."]
    assert not shows_data(app)

    app.text_input[0].input("s3cret")
    app.button[0].click().run()
    assert shows_data(app)
    assert app.dataframe  # the objectives table


def test_a_password_gate_without_its_hash_in_the_environment_says_which_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HASH_ENV, raising=False)
    app = overview(with_auth(tmp_path, f"    password: {{hash_env: {HASH_ENV}}}\n"), monkeypatch)
    assert [e.value for e in app.error] == [
        f"Password login is configured, but `{HASH_ENV}` is not set in the dashboard's environment."
    ]
    assert not shows_data(app)


def test_oidc_asks_to_log_in_and_shows_nothing_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = (
        "    oidc:\n"
        "      server_metadata_url: https://id.example/.well-known/openid-configuration\n"
        "      client_id: redline\n"
        "      redirect_uri: https://redline.example/oauth2callback\n"
    )
    app = overview(with_auth(tmp_path, auth), monkeypatch)
    assert [b.label for b in app.button] == ["Log in"]
    assert not shows_data(app) and not app.dataframe


def test_a_trusted_header_from_an_unknown_source_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = overview(with_auth(tmp_path, "    trusted_header: {allowed_sources: [10.0.0.5]}\n"), monkeypatch)
    assert "open it through the proxy" in app.error[0].value
    assert not shows_data(app)


def test_the_trusted_header_is_believed_only_from_an_allowed_source() -> None:
    auth = TrustedHeaderAuth(allowed_sources=[ip_network("10.0.0.5/32"), ip_network("fd00::/64")])
    assert trusted_user(auth, "10.0.0.5", {"x-forwarded-user": "ana"}) == "ana"  # header names: any case
    assert trusted_user(auth, "fd00::7", {"X-Forwarded-User": "bo"}) == "bo"
    assert trusted_user(auth, "10.0.0.6", {"X-Forwarded-User": "ana"}) is None
    assert trusted_user(auth, "10.0.0.5", {}) is None
    assert trusted_user(auth, "10.0.0.5", {"X-Forwarded-User": "  "}) is None
    assert trusted_user(auth, None, {"X-Forwarded-User": "ana"}) is None
    assert trusted_user(auth, "not-an-ip", {"X-Forwarded-User": "ana"}) is None


def test_oidc_secrets_come_from_the_environment_into_streamlits_auth_table() -> None:
    oidc = OidcAuth(
        server_metadata_url="https://id.example/.well-known/openid-configuration",
        client_id="redline",
        redirect_uri="https://redline.example/oauth2callback",
    )
    env = {"REDLINE_OIDC_CLIENT_SECRET": 'c"s\\1', "REDLINE_OIDC_COOKIE_SECRET": "cookie"}
    assert tomllib.loads(oidc_secrets_toml(oidc, env)) == {
        "auth": {
            "redirect_uri": "https://redline.example/oauth2callback",
            "cookie_secret": "cookie",
            "client_id": "redline",
            "client_secret": 'c"s\\1',
            "server_metadata_url": "https://id.example/.well-known/openid-configuration",
        }
    }
    with pytest.raises(ConfigError, match="REDLINE_OIDC_CLIENT_SECRET"):
        oidc_secrets_toml(oidc, {"REDLINE_OIDC_COOKIE_SECRET": "cookie"})


def test_loopback_addresses() -> None:
    assert [is_loopback(a) for a in ("127.0.0.1", "127.0.1.1", "::1", "localhost")] == [True] * 4
    assert [is_loopback(a) for a in ("0.0.0.0", "10.1.2.3", "::", "dash.example")] == [False] * 4


def test_a_non_loopback_address_without_auth_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_fleet(tmp_path)
    assert main(["dashboard", "--config", str(config), "--address", "0.0.0.0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "redline: error: the dashboard would listen on 0.0.0.0 with no authentication: configure "
        f"dashboard.auth (password, oidc or trusted_header) in {config}, or pass --insecure-no-auth\n"
    )


def test_insecure_no_auth_warns_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_fleet(tmp_path)
    # the port is taken, so it stops right after the warning, before starting Streamlit
    with socket.create_server(("0.0.0.0", 0)) as taken:
        port = taken.getsockname()[1]
        code = main(
            ["dashboard", "--config", str(config), "--address", "0.0.0.0", "--port", str(port), "--insecure-no-auth"]
        )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "redline: warning: the dashboard listens on 0.0.0.0 with NO authentication (--insecure-no-auth): "
        "anyone who can reach it sees every objective"
    )
    assert code == 2 and f"0.0.0.0:{port} is already in use" in err[1]


def test_hash_password_prints_a_hash_of_the_line_on_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert main(["hash-password"]) == 0
    assert verify_password("s3cret", capsys.readouterr().out.strip())
