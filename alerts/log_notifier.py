"""A notifier that writes one structured (JSON) log line per notification."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from redline.alerts.message import facts, headline
from redline.alerts.notifiers import Notification, Notifier, rfc3339

__all__ = ["LogNotifier", "log_record"]


def log_record(notification: Notification) -> dict[str, Any]:
    """The fields of the log line, in the order written."""
    return {
        "event": "alert",
        "status": notification.status,
        "slo": notification.slo,
        "severity": notification.severity,
        "fingerprint": notification.fingerprint,
        "dedup_key": notification.dedup_key,
        "startsAt": rfc3339(notification.starts_at),
        "endsAt": rfc3339(notification.ends_at),
        "headline": headline(facts(notification)),
        "facts": facts(notification).as_dict(),
        "labels": dict(notification.labels),
        "annotations": dict(notification.annotations),
    }


class LogNotifier(Notifier):
    """Logs ``alert {json}``: WARNING when firing, INFO when resolved; the dict is in ``extra["alert"]``."""

    def __init__(self, logger: logging.Logger, *, name: str = "log") -> None:
        self.name = name
        self._logger = logger

    def send(self, notifications: Sequence[Notification]) -> None:
        """Write the lines; logging never fails the caller, so this does not raise."""
        for notification in notifications:
            record = log_record(notification)
            level = logging.WARNING if notification.status == "firing" else logging.INFO
            # json.dumps escapes newlines, so a multi-line description still makes one line.
            self._logger.log(level, "alert %s", json.dumps(record, sort_keys=False), extra={"alert": record})
