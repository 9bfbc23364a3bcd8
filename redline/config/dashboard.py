"""The ``dashboard:`` section of a config: how people prove who they are before they see it.

One of three ways, or none (then the dashboard may listen on loopback only; ``redline dashboard``
refuses any other address unless ``--insecure-no-auth`` is given):

- ``password``: one shared password; the config names the environment variable holding its
  scrypt hash (``redline dashboard --hash-password`` makes one), never the password or the hash.
- ``oidc``: OpenID Connect through Streamlit's ``st.login``; the client secret and the cookie
  secret come from environment variables named here.
- ``trusted_header``: a reverse proxy that authenticates people puts the user in a header; the
  header is believed only on connections from ``allowed_sources``.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DashboardAuth", "DashboardSettings", "OidcAuth", "PasswordAuth", "TrustedHeaderAuth"]

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PasswordAuth(_Strict):
    """A shared password, checked against an scrypt hash from the environment."""

    hash_env: EnvName = "REDLINE_DASHBOARD_PASSWORD_HASH"


class OidcAuth(_Strict):
    """OpenID Connect through Streamlit's ``st.login`` (needs Authlib: ``pip install 'redline[oidc]'``)."""

    server_metadata_url: Annotated[str, Field(pattern=r"^https?://")]
    """The provider's ``.well-known/openid-configuration`` URL."""
    client_id: str
    redirect_uri: Annotated[str, Field(pattern=r"^https?://.+/oauth2callback$")]
    """Where the provider sends people back: the dashboard's own URL plus ``/oauth2callback``."""
    client_secret_env: EnvName = "REDLINE_OIDC_CLIENT_SECRET"
    cookie_secret_env: EnvName = "REDLINE_OIDC_COOKIE_SECRET"


class TrustedHeaderAuth(_Strict):
    """The user named by a reverse proxy's header, believed only from the proxy's addresses."""

    header: str = "X-Forwarded-User"
    allowed_sources: Annotated[list[IPv4Network | IPv6Network], Field(min_length=1)]
    """Addresses or networks of the proxy (``10.0.0.5``, ``10.0.0.0/24``)."""


class DashboardAuth(_Strict):
    """Exactly one way to authenticate."""

    password: PasswordAuth | None = None
    oidc: OidcAuth | None = None
    trusted_header: TrustedHeaderAuth | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DashboardAuth:
        chosen = [name for name in ("password", "oidc", "trusted_header") if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(f"choose exactly one of password, oidc, trusted_header (got {chosen or 'none'})")
        return self

    @property
    def method(self) -> str:
        """``password``, ``oidc`` or ``trusted_header``."""
        return "password" if self.password else "oidc" if self.oidc else "trusted_header"


class DashboardSettings(_Strict):
    """The ``dashboard:`` section."""

    auth: DashboardAuth | None = None
