"""Instants as people write them: one grammar for "evaluate at time T" on every command.

Accepted (case-insensitive, surrounding spaces ignored):

- ``now``;
- Unix seconds: ``1700000000`` or ``1700000000.5``;
- ISO 8601: ``2026-11-25T12:00:00Z``, ``2026-11-25T13:00:00+01:00``, ``2026-11-25 12:00``,
  ``2026-11-25`` (midnight); a time without a zone is UTC, never the machine's local zone, so
  the same command gives the same answer on every host;
- relative to now, with a Prometheus-style duration (``redline.kernel.units.parse_duration``):
  ``-2h``, ``2h ago``, ``now-30m``, ``now - 1h30m``, and forwards ``+15m``, ``now+15m``.

A bare negative number (``-5``) is rejected: it could be read as Unix seconds before 1970 or
as "5 seconds ago", and a guess either way would evaluate at the wrong time silently.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from redline.kernel.units import parse_duration

__all__ = ["INSTANT_FORMS", "parse_instant"]

INSTANT_FORMS: Final = (
    "now, Unix seconds (1700000000), ISO 8601 (2026-11-25T12:00:00Z; UTC when no zone is given) "
    "or a time relative to now (-2h, 2h ago, now-30m)"
)
"""The accepted forms in one phrase, for error messages and ``--help``."""

_UNIX_SECONDS: Final = re.compile(r"\d+(?:\.\d+)?")
_RELATIVE: Final = re.compile(r"(?:now\s*)?(?P<sign>[-+])\s*(?P<duration>\S+)")
_AGO: Final = re.compile(r"(?P<duration>\S+)\s+ago")


def parse_instant(text: str, now_s: float) -> float:
    """Unix seconds of ``text``, with ``now_s`` as "now" for the relative forms.

    Raises ``ValueError`` naming ``text`` and the accepted forms when it is none of them.
    """
    src = text.strip().lower()
    if src == "now":
        return now_s
    if _UNIX_SECONDS.fullmatch(src):
        return float(src)
    relative = _RELATIVE.fullmatch(src) or _AGO.fullmatch(src)
    if relative is not None:
        duration = relative.group("duration")
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            raise _not_an_instant(text, f"{duration!r} is not a duration such as 30s, 5m, 2h, 7d") from exc
        forwards = relative.groupdict().get("sign") == "+"
        return now_s + seconds if forwards else now_s - seconds
    try:
        parsed = datetime.fromisoformat(src.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise _not_an_instant(text) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _not_an_instant(text: str, detail: str | None = None) -> ValueError:
    reason = f" ({detail})" if detail else ""
    return ValueError(f"{text!r} is not a time{reason}: expected {INSTANT_FORMS}")
