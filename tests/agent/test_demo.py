"""`redline demo` end to end, as `make demo` runs it: history, fleet, agent, receiver and
dashboard on 127.0.0.1; the scripted incident must page within two minutes; Ctrl-C stops all.

This test runs for about a minute and a half of wall time: the incident starts 40 s in, and the
1 h burn rate needs the incident's errors to cross 14.4x.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

PAGE = "[webhook receiver] PAGE firing: api-availability"


class Lines:
    """Collects a process's output lines on a thread; wait for one with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._cond:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def join(self) -> None:
        self._thread.join(timeout=10)

    def wait_for(self, needle: str, timeout_s: float) -> tuple[float, str]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for at, line in self.lines:
                    if needle in line:
                        return at, line
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    shown = "\n".join(line for _, line in self.lines[-30:])
                    why = "the output ended" if self.closed else f"not within {timeout_s}s"
                    raise AssertionError(f"no line with {needle!r}: {why}; last output:\n{shown}")
                self._cond.wait(left)


def test_make_demo_pages_within_two_minutes_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "redline.agent.cli", "demo", "--dir", str(tmp_path / "demo"), "--duration", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = Lines(proc)
    try:
        started_at, _ = lines.wait_for("Redline demo is running", timeout_s=90)
        _, dash = lines.wait_for("dashboard:  http://127.0.0.1:", timeout_s=5)
        dashboard_url = re.search(r"http://127\.0\.0\.1:\d+/", dash)
        assert dashboard_url is not None

        paged_at, page = lines.wait_for(PAGE, timeout_s=150)
        assert paged_at - started_at < 120, f"paged {paged_at - started_at:.0f}s after start"
        burn_1h = float(re.search(r"at ([\d.]+)× over 1h", page).group(1))  # type: ignore[union-attr]
        assert burn_1h > 14.4
        # the same page in the agent's log, from the log notifier
        lines.wait_for('"status": "firing", "slo": "api-availability", "severity": "page"', timeout_s=5)
        assert httpx.get(dashboard_url.group(0) + "_stcore/health", timeout=10).text == "ok"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        lines.wait_for("stopping", timeout_s=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        lines.join()
        assert proc.stdout is not None
        proc.stdout.close()
