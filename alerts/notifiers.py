"""What a notification is and what every notifier does with it.

A ``Notifier`` delivers one ``Notification`` per ``send()`` call. It raises
``redline.kernel.errors.NotifyError`` when it could not deliver; ``permanent=True`` means retrying the
same notification cannot help (a 404 from the receiver), so the caller stops owing it.
Retries with backoff inside one ``send()`` are the notifier's own business (see
``alerts.http_retry``); the manager retries a non-permanent failure on its next evaluation.

Error messages name the notifier, never its destination: webhook URLs are secrets.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ALERTNAME",
    "AlertStatus",
    "Notification",
    "Notifier",
    "fingerprint",
    "rfc3339",
]

AlertStatus = Literal["firing", "resolved"]

ALERTNAME: Final = "RedlineErrorBudgetBurn"
"""The ``alertname`` label of every burn-rate alert; ``slo`` and ``severity`` tell them apart."""

_ZERO_TIME: Final = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Notification:
    """One alert changing (or repeating) its status, as every notifier receives it.

    Times are Unix seconds; ``ends_at`` is ``None`` while firing.
    """

    status: AlertStatus
    key: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None
    fingerprint: str
    generator_url: str = ""
    external_url: str = ""

    @property
    def slo(self) -> str:
        """The objective's name (the ``slo`` label)."""
        return self.labels.get("slo", "")

    @property
    def severity(self) -> str:
        """``page`` or ``ticket`` (the ``severity`` label)."""
        return self.labels.get("severity", "")


class Notifier(abc.ABC):
    """A destination for notifications. ``send`` may be called from any one thread at a time."""

    name: str

    @abc.abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver once (with the notifier's own retries); raise ``NotifyError`` on failure."""

    def shutdown(self, timeout_s: float = 5.0) -> None:  # noqa: B027 - optional hook, no-op by default
        """Stop: abandon backoff waits; later sends fail with a non-permanent ``NotifyError``."""


def rfc3339(seconds: float | None) -> str:
    """RFC 3339 UTC as Alertmanager writes it (``2024-05-01T12:00:00.25Z``).

    ``None`` gives Go's zero time, which Alertmanager sends as ``endsAt`` of a firing alert.
    """
    if seconds is None:
        return _ZERO_TIME
    micros = round(seconds * 1_000_000)
    stamp = dt.datetime.fromtimestamp(micros // 1_000_000, tz=dt.UTC)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    frac = micros % 1_000_000
    if frac:
        text += "." + f"{frac:06d}".rstrip("0")
    return text + "Z"


_FNV_OFFSET: Final = 0xCBF29CE484222325
_FNV_PRIME: Final = 0x100000001B3
_SEP: Final = b"\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus's label-set fingerprint: FNV-1a 64 over sorted ``name 0xff value 0xff``, 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), _SEP, labels[name].encode(), _SEP):
            for byte in chunk:
                h ^= byte
                h = (h * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"
