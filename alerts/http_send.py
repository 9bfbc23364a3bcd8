"""The one place HTTP notifiers POST: one attempt, judged by ``redline.alerts.classify``.

Retrying is the outbox's job (``redline.alerts.delivery``); here an answer or an exception
becomes ``DeliveryFailed`` carrying the verdict. Messages name the notifier and never the URL
(a webhook URL is a secret): the text of a lower-level error is kept only with the URL cut out
of it. httpx itself logs every request's URL at INFO on the ``httpx`` logger; ``protect_url()``
installs a filter there that redacts the URLs registered with it, so turning that logger up
never leaks a webhook.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from redline.alerts.classify import Verdict, classify_exception, classify_response
from redline.alerts.notifiers import DeliveryFailed

__all__ = ["post_once", "protect_url", "redact"]


def _secret_parts(url: str) -> list[str]:
    parts = urlsplit(url)
    secrets = [url, url.rstrip("/")]
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(tail) > 1:
        secrets.append(tail)
    if parts.password:
        secrets.append(parts.password)
    return [s for s in secrets if s]


def redact(text: str, *urls: str) -> str:
    """``text`` with each URL, and its path and query when not trivial, replaced by ``<redacted>``."""
    secrets = {s for url in urls for s in _secret_parts(url)}
    for secret in sorted(secrets, key=len, reverse=True):  # whole URLs before their parts
        text = text.replace(secret, "<redacted>")
    return text


class _RedactFilter(logging.Filter):
    """Rewrites records that mention a protected URL; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._urls: set[str] = set()

    def add(self, url: str) -> None:
        with self._lock:
            self._urls.add(url)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            urls = tuple(self._urls)
        if not urls:
            return True
        message = record.getMessage()
        redacted = redact(message, *urls)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT_FILTER = _RedactFilter()
_LIBRARY_LOGGERS = ("httpx", "httpcore")


def protect_url(url: str) -> None:
    """Keep ``url`` (and its path) out of the httpx and httpcore loggers' records from now on."""
    _REDACT_FILTER.add(url)
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT_FILTER not in logger.filters:
            logger.addFilter(_REDACT_FILTER)


def post_once(
    client: httpx.Client,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    name: str,
    timeout_s: float | None = None,
    slack: bool = False,
    clock: Callable[[], float] = time.time,
    secrets: tuple[str, ...] = (),
) -> bytes:
    """POST ``content`` once; return the body of a 2xx answer.

    Raises ``DeliveryFailed`` naming ``name`` with the verdict; ``secrets`` (a routing key) are
    cut out of any message as the URL is.
    """
    try:
        response = client.post(
            url, content=content, headers=dict(headers),
            timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.HTTPError as exc:
        verdict = classify_exception(exc)
        reason = _scrub(verdict.reason, url, secrets)
        # The cause is dropped on purpose (``from None``): its message and request carry the URL.
        raise DeliveryFailed(f"notifier {name!r}: {reason}", Verdict(verdict.kind, reason)) from None
    verdict = classify_response(
        response.status_code, dict(response.headers), response.content, now=clock(), slack=slack
    )
    if verdict.kind == "sent":
        return response.content
    reason = _scrub(verdict.reason, url, secrets)
    raise DeliveryFailed(
        f"notifier {name!r}: receiver answered {reason}", Verdict(verdict.kind, reason, verdict.wait_s)
    )


def _scrub(text: str, url: str, secrets: tuple[str, ...]) -> str:
    text = redact(text, url)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text
