"""Child processes Redline starts (the Streamlit dashboard) and how they are stopped.

A child is started in its own session (``start_new_session=True``), hence its own process
group, and stopped by signalling the whole group: Streamlit's own children go with it, and
nothing is left orphaned when the agent or the demo is stopped by SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading

__all__ = ["signal_process_group", "stop_later", "stop_process_group"]


def signal_process_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to ``proc``'s process group (its PID: it leads its own); gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop_process_group(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """SIGTERM the group, wait up to ``timeout_s`` for its leader, then SIGKILL the group.

    Not for a signal handler (it waits on the child); there use ``stop_later``.
    """
    signal_process_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        signal_process_group(proc, signal.SIGKILL)
        proc.wait(timeout=timeout_s)
    signal_process_group(proc, signal.SIGKILL)  # what the leader left behind in its group


def stop_later(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """From a signal handler: SIGTERM the group now, SIGKILL it after ``timeout_s`` if its
    leader still runs (a timer thread; the waiting is left to whoever waits on ``proc``)."""
    signal_process_group(proc, signal.SIGTERM)

    def kill_if_running() -> None:
        if proc.poll() is None:
            signal_process_group(proc, signal.SIGKILL)

    timer = threading.Timer(timeout_s, kill_if_running)
    timer.daemon = True
    timer.start()
