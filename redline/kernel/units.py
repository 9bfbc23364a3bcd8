"""Units as people write them: Prometheus-style durations."""

from __future__ import annotations

import math
import re
from typing import Final

__all__ = ["format_duration", "parse_duration", "prometheus_duration"]

# ---------------------------------------------------------------------------------------------
# Durations

_DURATION_UNITS: Final = {
    "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0,
}
_DURATION_RE: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus-style duration (``30s``, ``5m``, ``1h30m``, ``30d``).

    Raises ``ValueError`` naming the text when it is not a positive duration.
    """
    src = text.strip()
    pos = 0
    total = 0.0
    for m in _DURATION_RE.finditer(src):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(src) or not src:
        raise ValueError(f"{text!r} is not a duration: expected a number and a unit such as 30s, 5m, 1h, 30d")
    if total <= 0 or not math.isfinite(total):
        raise ValueError(f"{text!r} is not a positive duration")
    return total


def format_duration(seconds: float) -> str:
    """The shortest exact Prometheus-style spelling of a duration (``2592000`` → ``30d``)."""
    if seconds <= 0:
        return "0s"
    ms = round(seconds * 1000)
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def prometheus_duration(seconds: float) -> str:
    """A duration as Prometheus spells it (``model.Duration.String()``): years and weeks only when
    they divide the whole (``28d`` → ``4w``, ``7d`` → ``1w``, ``365d`` → ``1y``; ``30d`` and
    ``90d`` stay), then days, hours, minutes, seconds, milliseconds. Sloth names its rules so,
    and a record's name must match theirs for their dashboards and alerts to find it."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    parts: list[str] = []
    for unit, size, exact in (
        ("y", 31_536_000_000, True), ("w", 604_800_000, True), ("d", 86_400_000, False),
        ("h", 3_600_000, False), ("m", 60_000, False), ("s", 1000, False), ("ms", 1, False),
    ):  # fmt: skip
        if exact and ms % size:
            continue
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)
