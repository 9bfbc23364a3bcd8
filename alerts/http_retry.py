"""The one place HTTP notifiers retry: exponential backoff on transient failures.

Transient (retried): connect errors, timeouts, other network and remote-protocol errors,
HTTP 429 and 5xx. Permanent (raised at once with ``permanent=True``): any other non-2xx
answer, an unsupported scheme or an invalid URL. A ``Retry-After`` header given in seconds on
429/503 replaces the computed delay, still capped at ``max_backoff_s``.

Messages name the notifier and never the URL (a webhook URL is a secret): the text of a
lower-level error is kept only with the URL cut out of it. httpx itself logs every request's
URL at INFO on the ``httpx`` logger; ``protect_url()`` installs a filter there that redacts
the URLs registered with it, so turning that logger up never leaks a webhook.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from redline.kernel.errors import NotifyError

__all__ = ["DeliveryError", "RetryPolicy", "post_with_retry", "protect_url", "redact"]


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` attempts after the first; before the n-th retry wait ``backoff_s × 2**(n-1)``, capped."""

    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    timeout_s: float | None = None
    """Per attempt; ``None`` leaves the client's own timeout."""

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if not (self.backoff_s >= 0 and math.isfinite(self.backoff_s)):
            raise ValueError(f"backoff_s must be a non-negative number, got {self.backoff_s!r}")
        if not (self.max_backoff_s >= self.backoff_s and math.isfinite(self.max_backoff_s)):
            raise ValueError(f"max_backoff_s must be >= backoff_s, got {self.max_backoff_s!r}")

    def delay_s(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return min(self.backoff_s * 2.0 ** (retry - 1), self.max_backoff_s)


class DeliveryError(NotifyError):
    """A ``NotifyError`` that also says how many HTTP attempts were made."""

    def __init__(self, message: str, *, permanent: bool, attempts: int) -> None:
        super().__init__(message, permanent=permanent)
        self.attempts = attempts


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


def _retry_after_s(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return value if value >= 0 and math.isfinite(value) else None


def post_with_retry(
    client: httpx.Client,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    name: str,
    policy: RetryPolicy,
    sleep: Callable[[float], object],
    stopped: Callable[[], bool] = lambda: False,
) -> int:
    """POST ``content`` until a 2xx answer; return the number of attempts it took.

    Raises ``DeliveryError`` (a ``NotifyError``) naming ``name``: permanent on a non-retryable
    answer, non-permanent when every attempt failed transiently or ``stopped()`` became true.
    """
    attempts = 0
    last = "no attempt made"
    for attempt in range(policy.retries + 1):
        if stopped():
            raise DeliveryError(
                f"notifier {name!r} is shut down; not sent ({last})", permanent=False, attempts=attempts
            )
        attempts = attempt + 1
        wait: float | None = None
        try:
            response = client.post(
                url, content=content, headers=dict(headers),
                timeout=policy.timeout_s if policy.timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError) as exc:
            # The cause is dropped on purpose (``from None``): its message and request carry the URL.
            raise DeliveryError(
                f"notifier {name!r}: the configured URL cannot be used: "
                f"{type(exc).__name__}: {redact(str(exc), url)}",
                permanent=True,
                attempts=attempts,
            ) from None
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {redact(str(exc), url)}".rstrip(": ")
        except httpx.HTTPError as exc:  # e.g. TooManyRedirects: asking again will not help
            raise DeliveryError(
                f"notifier {name!r}: {type(exc).__name__}: {redact(str(exc), url)}",
                permanent=True,
                attempts=attempts,
            ) from None
        else:
            status = response.status_code
            if 200 <= status < 300:
                return attempts
            last = f"HTTP {status} {response.reason_phrase}".rstrip()
            if status != 429 and status < 500:
                raise DeliveryError(
                    f"notifier {name!r}: receiver answered {last}; not retrying",
                    permanent=True,
                    attempts=attempts,
                )
            wait = _retry_after_s(response)
        if attempt < policy.retries:
            delay = policy.delay_s(attempt + 1) if wait is None else min(wait, policy.max_backoff_s)
            sleep(delay)
    raise DeliveryError(
        f"notifier {name!r}: not delivered after {attempts} attempts; last error: {last}",
        permanent=False,
        attempts=attempts,
    )
