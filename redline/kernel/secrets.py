"""Secrets named in a config: read from an environment the caller hands in, never shown.

A config never holds a secret; it names the environment variable that does (``bearer_token_env``,
``password_env``, a webhook's ``url_env``). Every part resolves such a name the same way, here:
the variable's value (surrounding whitespace stripped), or else the contents of the file named
by ``<VAR>_FILE`` (as Docker and Kubernetes secrets are mounted). The environment is always passed
in (the agent's, or a test's dict), so nothing here reads ``os.environ`` behind the caller's back.
Errors name the variable and where the config names it, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from redline.kernel.errors import ConfigError

__all__ = ["Secrets", "secret_from_env"]


class Secrets(dict[str, str]):
    """Headers or passwords resolved from the environment: a dict whose repr never shows a value."""

    def __repr__(self) -> str:
        return f"Secrets(keys={sorted(self)!r}, values=***)"


def secret_from_env(var: str, env: Mapping[str, str], *, where: str = "") -> str:
    """The secret in environment variable ``var`` of ``env``, or in the file named by ``<var>_FILE``.

    ``where`` says what names ``var`` in the config (``bearer_token_env``,
    ``alerting.notifiers[0].url_env``) for the error. An unset or empty variable (and no file), an
    unreadable or empty file: ``ConfigError`` naming the variable and ``where``, never a value.
    """
    value = env.get(var, "").strip()
    if value:
        return value
    file_name = env.get(f"{var}_FILE", "").strip()
    at = f" (named by {where})" if where else ""
    if file_name:
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {var}_FILE{at}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"the file named by {var}_FILE{at} is not UTF-8 text (byte {exc.start})") from exc
        if value:
            return value
        raise ConfigError(f"the file named by {var}_FILE{at} is empty")
    raise ConfigError(f"environment variable {var}{at} is not set (nor {var}_FILE)")
