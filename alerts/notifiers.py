"""What a notification is and what every notifier does with it.

A ``Notifier`` makes ONE attempt per ``send()`` call, for a batch of at most ``max_batch``
notifications (one message where the receiver can group, e.g. Slack or Alertmanager's
webhook), and raises ``redline.kernel.errors.NotifyError`` carrying the ``Verdict``
(``redline.alerts.classify``) when it did not deliver. Retries, backoff, rate limits and the
give-up belong to the outbox (``redline.alerts.delivery``), not to the notifier.

Error messages name the notifier, never its destination: webhook URLs and routing keys are
secrets.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from redline.alerts.classify import Verdict
from redline.kernel.errors import NotifyError

__all__ = [
    "ALERTNAME",
    "AlertStatus",
    "DeliveryFailed",
    "Notification",
    "Notifier",
    "dedup_key",
    "fingerprint",
    "rfc3339",
]

AlertStatus = Literal["firing", "resolved"]

ALERTNAME: Final = "RedlineErrorBudgetBurn"
"""The ``alertname`` label of every burn-rate alert; ``slo`` and ``severity`` tell them apart."""

_ZERO_TIME: Final = "0001-01-01T00:00:00Z"


def dedup_key(key: str, started_at: float) -> str:
    """The incident's dedup key: ``redline-`` + 40 hex digits of SHA-256 over the alert key and the
    millisecond it started. Only the identity goes in (never labels, annotations or config), so
    the key survives restarts, upgrades and config reloads; 48 characters, within PagerDuty's 255.
    This formula is a contract: changing it re-opens every open incident at the receivers.
    """
    identity = f"{key}\x00{round(started_at * 1000)}".encode()
    return "redline-" + hashlib.sha256(identity).hexdigest()[:40]


@dataclass(frozen=True)
class Notification:
    """One alert changing (or repeating) its status, as every notifier receives it.

    Times are Unix seconds; ``ends_at`` is ``None`` while firing. ``test`` marks the labelled
    test message of ``redline alerts test``.
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
    dedup_key: str = ""
    test: bool = False

    @property
    def slo(self) -> str:
        """The objective's name (the ``slo`` label)."""
        return self.labels.get("slo", "")

    @property
    def severity(self) -> str:
        """``page`` or ``ticket`` (the ``severity`` label)."""
        return self.labels.get("severity", "")

    def to_json(self) -> dict[str, Any]:
        """The snapshot stored with an intent."""
        return {
            "status": self.status, "key": self.key, "labels": dict(self.labels),
            "annotations": dict(self.annotations), "starts_at": self.starts_at, "ends_at": self.ends_at,
            "fingerprint": self.fingerprint, "generator_url": self.generator_url,
            "external_url": self.external_url, "dedup_key": self.dedup_key, "test": self.test,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        """The inverse of ``to_json``."""
        return cls(
            status=data["status"], key=data["key"], labels=dict(data["labels"]),
            annotations=dict(data["annotations"]), starts_at=float(data["starts_at"]),
            ends_at=None if data["ends_at"] is None else float(data["ends_at"]),
            fingerprint=data["fingerprint"], generator_url=data.get("generator_url", ""),
            external_url=data.get("external_url", ""), dedup_key=data.get("dedup_key", ""),
            test=bool(data.get("test", False)),
        )


class DeliveryFailed(NotifyError):
    """One attempt did not deliver; ``verdict`` says whether and when to try again."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message, permanent=verdict.kind == "permanent")
        self.verdict = verdict


class Notifier(abc.ABC):
    """A destination for notifications. ``send`` is called from one thread at a time.

    ``max_batch`` > 1 lets the outbox put several notifications in one message (incidents that
    open together, or a backlog after an outage, in order); ``min_interval_s`` is the receiver's
    rate limit (seconds per message on average) and ``burst`` how many messages may go at once
    within it: at most ``burst`` in any ``burst × min_interval_s`` seconds
    (``redline.alerts.rate_limit``); ``resend_interval_s`` asks the outbox to re-post firing
    alerts that often (Alertmanager forgets an alert not re-posted).
    """

    name: str
    max_batch: int = 1
    min_interval_s: float = 0.0
    burst: int = 1
    resend_interval_s: float | None = None

    @abc.abstractmethod
    def send(self, notifications: Sequence[Notification]) -> None:
        """One attempt to deliver ``notifications`` (one message); raise ``DeliveryFailed`` if not."""

    def shutdown(self, timeout_s: float = 5.0) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release what the notifier holds; the outbox stops calling ``send`` first."""


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
