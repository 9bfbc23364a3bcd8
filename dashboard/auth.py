"""Who is looking at the dashboard: the gate every page passes before it shows anything.

The method is the config's ``dashboard.auth`` (redline/config/dashboard.py). With none, the
dashboard runs unauthenticated, which ``redline dashboard`` allows on loopback only. A page
that cannot tell who is looking shows how to log in (or why it refuses) and stops there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from ipaddress import ip_address

import streamlit as st

from redline.config.dashboard import DashboardAuth, TrustedHeaderAuth
from redline.dashboard.passwords import verify_password
from redline.dashboard.text import markdown

__all__ = ["require_user", "signed_in_user", "trusted_user"]

log = logging.getLogger(__name__)

_USER_KEY = "_redline_user"
_NAME_KEY = "_redline_user_name"


def trusted_user(auth: TrustedHeaderAuth, source: str | None, headers: Mapping[str, str]) -> str | None:
    """The user the proxy named, if the connection comes from an allowed source and the header is
    set; else None. Header names are case-insensitive."""
    if not source:
        return None
    try:
        address = ip_address(source)
    except ValueError:
        return None
    if not any(address in network for network in auth.allowed_sources):
        return None
    wanted = auth.header.lower()
    user = next((v for k, v in headers.items() if k.lower() == wanted), "").strip()
    return user or None


def _password(hash_env: str, env: Mapping[str, str]) -> str | None:
    user = st.session_state.get(_USER_KEY)
    if isinstance(user, str):
        return user
    encoded = env.get(hash_env, "")
    if not encoded:
        st.error(
            markdown(
                "Password login is configured, but {env!c} is not set in the dashboard's environment.", env=hash_env
            )
        )
        return None
    with st.form("login"):
        password = st.text_input("Password", type="password")
        name = st.text_input("Your name", help="Recorded with the silences and acknowledgements you make")
        submitted = st.form_submit_button("Log in")
    if not submitted:
        return None
    try:
        ok = verify_password(password, encoded)
    except ValueError as exc:
        st.error(markdown("{env!c} does not hold a usable hash: {error}", env=hash_env, error=exc))
        return None
    if not ok:
        log.warning("dashboard: a wrong password was entered")
        st.error("Wrong password.")
        return None
    st.session_state[_USER_KEY] = "password"
    st.session_state[_NAME_KEY] = name.strip()
    st.rerun()
    return "password"  # not reached: st.rerun() ends this run


def _oidc() -> str | None:
    if not st.user.get("is_logged_in"):  # absent, not False, where st.login is not set up
        st.info("Log in with your organisation's account to see this dashboard.")
        st.button("Log in", on_click=st.login, type="primary")
        return None
    st.sidebar.button("Log out", on_click=st.logout)
    return _oidc_name()


def _oidc_name() -> str:
    name = st.user.get("email") or st.user.get("name") or st.user.get("sub")
    return str(name) if name else "oidc user"


def _header(auth: TrustedHeaderAuth) -> str | None:
    user = trusted_user(auth, st.context.ip_address, dict(st.context.headers))
    if user is None:
        st.error(markdown(
            "This dashboard trusts the {header!c} header of its reverse proxy only: open it through the proxy.",
            header=auth.header,
        ))
    return user


def require_user(auth: DashboardAuth | None, env: Mapping[str, str]) -> str | None:
    """Who is looking (None when no authentication is configured); stops the page, after saying
    how to log in or why not, when nobody is authenticated."""
    if auth is None:
        return None
    if auth.password is not None:
        user = _password(auth.password.hash_env, env)
    elif auth.oidc is not None:
        user = _oidc()
    else:
        assert auth.trusted_header is not None
        user = _header(auth.trusted_header)
    if user is None:
        st.stop()
    return user


def signed_in_user(auth: DashboardAuth | None) -> str | None:
    """Who is logged in on this session, drawing nothing: what an action that changes something
    (a silence, an acknowledgement) records as who did it. None when no authentication is
    configured or nobody has logged in. The shared password proves only that the password was
    known: it reads as the name given at login, marked as such."""
    if auth is None:
        return None
    if auth.password is not None:
        if not isinstance(st.session_state.get(_USER_KEY), str):
            return None
        name = st.session_state.get(_NAME_KEY)
        return f"{name} (shared password)" if isinstance(name, str) and name else "shared password"
    if auth.oidc is not None:
        return _oidc_name() if st.user.get("is_logged_in") else None
    assert auth.trusted_header is not None
    return trusted_user(auth.trusted_header, st.context.ip_address, dict(st.context.headers))
