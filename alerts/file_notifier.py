"""A notifier that appends one JSON line per notification to a local file (for local use and tests)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from redline.alerts.classify import Verdict
from redline.alerts.log_notifier import log_record
from redline.alerts.notifiers import DeliveryFailed, Notification, Notifier

__all__ = ["FileNotifier"]


class FileNotifier(Notifier):
    """Appends ``log_record`` JSON lines to ``path``, fsynced: a line is either whole or absent."""

    def __init__(self, path: Path, *, name: str = "file") -> None:
        self.name = name
        self.max_batch = 100
        self._path = Path(path)

    def send(self, notifications: Sequence[Notification]) -> None:
        """Append the lines; an OS error (full disk) is retried by the outbox."""
        data = "".join(json.dumps(log_record(n), sort_keys=False) + "\n" for n in notifications).encode()
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            reason = f"cannot append to {self._path}: {exc.strerror or exc}"
            raise DeliveryFailed(f"notifier {self.name!r}: {reason}", Verdict("retry", reason)) from exc
