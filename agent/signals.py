"""How the long-running commands (``run``, ``demo``) wait to be stopped."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from redline.agent.children import kill_started_groups

__all__ = ["wait_for_stop"]


def wait_for_stop(duration_s: float | None = None) -> None:
    """Block until SIGINT or SIGTERM (or ``duration_s`` seconds). From the first signal on, a
    second one exits at once with 128 + its number, whatever the shutdown is doing, and takes the
    child process groups it started (the dashboard) with it: they are never left orphaned."""
    stop = threading.Event()

    def at_once(signum: int, frame: FrameType | None) -> None:
        os.write(2, f"redline: second {signal.Signals(signum).name}: exiting at once\n".encode())
        kill_started_groups()
        os._exit(128 + signum)

    def first(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, at_once)
        signal.signal(signal.SIGTERM, at_once)
        stop.set()

    signal.signal(signal.SIGINT, first)
    signal.signal(signal.SIGTERM, first)
    stop.wait(duration_s)
