"""The command line that starts the dashboard in its own process (used by ``redline dashboard``)."""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from redline.config.dashboard import OidcAuth
from redline.kernel.secrets import secret_from_env

__all__ = ["APP_PATH", "dashboard_command", "is_loopback", "oidc_secrets_toml"]

APP_PATH = Path(__file__).resolve().parent / "app.py"


def dashboard_command(config_path: Path, *, port: int, address: str = "127.0.0.1") -> list[str]:
    """``streamlit run`` of the dashboard app for ``config_path``, headless, bound to ``address:port``,
    through ``redline.dashboard.serve`` (the pages imported before the first visitor comes).

    Binds to 127.0.0.1 unless told otherwise (left unset, Streamlit listens on every interface)
    and turns off usage statistics.
    """
    return [
        sys.executable, "-m", "redline.dashboard.serve", "run", str(APP_PATH),
        "--server.headless", "true",
        "--server.address", address,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--", "--config", str(config_path),
    ]


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP or ``localhost``) reaches only this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, assume the network


def oidc_secrets_toml(oidc: OidcAuth, env: Mapping[str, str]) -> str:
    """The ``[auth]`` table of Streamlit's ``secrets.toml`` that ``st.login`` reads, with the client
    and cookie secrets from the environment (``ConfigError`` naming a variable that is unset).
    Write it to a private folder's ``.streamlit/secrets.toml`` and start Streamlit there."""
    values = {
        "redirect_uri": oidc.redirect_uri,
        "cookie_secret": secret_from_env(oidc.cookie_secret_env, env, where="dashboard.auth.oidc.cookie_secret_env"),
        "client_id": oidc.client_id,
        "client_secret": secret_from_env(oidc.client_secret_env, env, where="dashboard.auth.oidc.client_secret_env"),
        "server_metadata_url": oidc.server_metadata_url,
    }
    # a JSON string is a valid TOML basic string (same quotes and escapes)
    return "[auth]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
