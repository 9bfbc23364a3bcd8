"""The one place a delivery outcome is judged: sent, retry later, wait for the receiver, or give up.

    Verdict.kind
    ├── "sent"        a 2xx answer (Slack's body ``ok``)
    ├── "retry"       5xx, network errors, timeouts: back off (``Backoff``) until the give-up time
    ├── "rate_limited" 429: wait at least ``Retry-After`` (seconds or an HTTP date)
    └── "permanent"   everything else: any other 4xx, a 3xx, a URL that cannot be used, and Slack's
                       ``invalid_payload``, ``channel_not_found``, ``channel_is_archived``,
                       ``no_service``, ``action_prohibited`` (whatever the status): never retried

Reasons are short and safe to log: a body is cut to its first line of text (an HTML error page
becomes its ``<title>``), and the caller redacts URLs before anything reaches a log.
"""

from __future__ import annotations

import email.utils
import html
import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "SLACK_PERMANENT",
    "Backoff",
    "Verdict",
    "VerdictKind",
    "classify_exception",
    "classify_response",
    "retry_after_s",
]

VerdictKind = Literal["sent", "retry", "rate_limited", "permanent"]

SLACK_PERMANENT: Final = frozenset(
    {"invalid_payload", "channel_not_found", "channel_is_archived", "no_service", "action_prohibited",
     "invalid_token", "no_active_hooks", "team_disabled", "user_not_found"}
)
"""Slack's incoming-webhook error codes that no retry can fix."""

_MAX_REASON: Final = 200
_TITLE: Final = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG: Final = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Verdict:
    """What to do after one attempt; ``wait_s`` is the least wait a 429 asked for."""

    kind: VerdictKind
    reason: str
    wait_s: float | None = None


def _body_text(body: bytes, content_type: str) -> str:
    """The first meaningful line of an answer body, at most ``_MAX_REASON`` characters."""
    text = body[:4096].decode("utf-8", "replace")
    if "html" in content_type.lower() or text.lstrip().lower().startswith(("<!doctype", "<html")):
        found = _TITLE.search(text)
        text = found.group(1) if found else _TAG.sub(" ", text)
        text = html.unescape(text)
    line = " ".join(text.split())
    return line[:_MAX_REASON]


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delta seconds or an HTTP date (``None``: absent/bad)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def classify_response(
    status: int, headers: Mapping[str, str], body: bytes, *, now: float, slack: bool = False
) -> Verdict:
    """Judge an HTTP answer. ``headers`` keys are matched case-insensitively; ``now`` dates ``Retry-After``.

    ``slack`` reads the body as Slack's incoming webhook writes it (``ok`` or an error code).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    text = _body_text(body, lowered.get("content-type", ""))
    head = f"HTTP {status}" + (f": {text}" if text else "")
    if slack and text in SLACK_PERMANENT:
        return Verdict("permanent", f"HTTP {status}: Slack says {text}")
    if 200 <= status < 300:
        return Verdict("sent", head)
    if status == 429:
        return Verdict("rate_limited", head, retry_after_s(lowered.get("retry-after"), now))
    if status >= 500:
        return Verdict("retry", head)
    return Verdict("permanent", head)


_PERMANENT_EXCEPTIONS: Final = ("UnsupportedProtocol", "InvalidURL", "LocalProtocolError", "TooManyRedirects")


def classify_exception(exc: BaseException) -> Verdict:
    """Judge an exception raised while sending: a bad URL is permanent, any other transport error retries."""
    name = type(exc).__name__
    if name in _PERMANENT_EXCEPTIONS:
        return Verdict("permanent", f"{name}: the configured URL cannot be used")
    return Verdict("retry", f"{name}: {exc}".rstrip(": ")[:_MAX_REASON])


@dataclass(frozen=True)
class Backoff:
    """Retry waits: ``initial_s × factor**(n-1)`` with ±``jitter`` of it, capped at ``max_s``.

    ``random`` draws from [0, 1); a test passes a constant to make waits exact.
    """

    initial_s: float = 0.5
    factor: float = 1.5
    max_s: float = 60.0
    jitter: float = 0.2
    random: Callable[[], float] = random.random

    def delay_s(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based)."""
        base = self.initial_s * self.factor ** min(retry - 1, 200)
        spread = 1.0 + self.jitter * (2.0 * self.random() - 1.0)
        return min(base * spread, self.max_s)
