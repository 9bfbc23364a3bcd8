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

__all__ = ["kill_started_groups", "signal_process_group", "start_group", "stop_later", "stop_process_group"]

_STARTED: set[int] = set()
"""Process groups ``start_group`` started and ``stop_process_group`` has not stopped yet."""


def start_group(cmd: list[str], **popen: object) -> subprocess.Popen[bytes]:
    """``cmd`` in its own session (its own process group), remembered so that a process that must
    exit at once (a second Ctrl-C or SIGTERM) can still take it down: ``kill_started_groups``."""
    proc: subprocess.Popen[bytes] = subprocess.Popen(cmd, start_new_session=True, **popen)  # type: ignore[call-overload]
    _STARTED.add(proc.pid)
    return proc


def kill_started_groups() -> None:
    """SIGKILL every group ``start_group`` started that is still remembered. Safe in a signal
    handler (no waiting): for the exit-at-once path, where an orderly stop has no time."""
    for pgid in tuple(_STARTED):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


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
    _STARTED.discard(proc.pid)


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
