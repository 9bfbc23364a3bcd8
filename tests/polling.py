"""One way for tests to wait on a condition they cannot be told about (a real Prometheus or
Alertmanager that works on its own schedule): check it, and between checks block on an event
nobody sets, up to a deadline. Fails naming what was awaited."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["wait_until"]


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0, interval_s: float = 0.1) -> None:
    """Return once ``condition()`` is true; ``AssertionError`` naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        pause.wait(interval_s)
