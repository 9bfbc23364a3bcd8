"""A real Prometheus on 127.0.0.1 for tests, serving a history backfilled from OpenMetrics text.

``run_prometheus(openmetrics, root)`` writes the text, turns it into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics``, starts ``prometheus`` on a free port, waits
for ``/-/ready`` (with a deadline, failing early if the process exits) and yields the base URL;
the process is stopped by its handle on exit.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "run_prometheus"]

READY_DEADLINE_S = 60.0


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@contextmanager
def run_prometheus(openmetrics: str, root: Path, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Backfill ``openmetrics`` (timestamps in seconds, ending ``# EOF``) under ``root`` and serve it."""
    om = root / "history.om"
    om.write_text(openmetrics)
    data = root / "data"
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
        check=True, capture_output=True, timeout=120,
    )
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    port = free_port()
    log_path = root / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address=127.0.0.1:{port}",
                *extra_args,
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=5.0) as client:
                deadline = time.monotonic() + READY_DEADLINE_S
                while True:
                    try:
                        if client.get(f"{url}/-/ready").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"prometheus not ready in {READY_DEADLINE_S:.0f} s: {_tail(log_path)}")
                    try:  # the poll interval doubles as the check that the server has not exited
                        proc.wait(timeout=0.1)
                    except subprocess.TimeoutExpired:
                        continue
                    raise RuntimeError(f"prometheus exited with {proc.returncode}: {_tail(log_path)}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
