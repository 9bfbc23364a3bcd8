"""Redline's one exception tree.

    RedlineError
    ├── ConfigError   a config or spec is invalid: names file, path inside it, what was expected
    ├── SourceError   a source could not be fetched or parsed (reported on the source's health)
    ├── StoreError    the store could not be read or written
    └── NotifyError   a notification could not be delivered; ``permanent`` says whether to retry

Lower-level errors (httpx, polars, OS) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = ["ConfigError", "NotifyError", "RedlineError", "SourceError", "StoreError"]


class RedlineError(Exception):
    """Base of every error Redline raises on purpose."""


class ConfigError(RedlineError):
    """A config file, spec or command-line value is invalid."""


class SourceError(RedlineError):
    """A source could not be fetched or its payload could not be parsed."""


class StoreError(RedlineError):
    """The embedded store could not be read or written; ``path`` names the file when one is at fault."""

    def __init__(self, message: str, *, path: object = None) -> None:
        super().__init__(message)
        self.path = path


class NotifyError(RedlineError):
    """A notifier failed; a permanent error is not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
