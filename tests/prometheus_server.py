"""A real Prometheus on 127.0.0.1 for tests, serving a history backfilled from OpenMetrics text.

``run_prometheus(openmetrics, root)`` is the whole of it: ``backfill`` writes the text under
``root`` and turns it into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``;
``serve_prometheus(data, root)`` starts ``prometheus`` on that data directory on a free port
(optionally with rule files), waits for ``/-/ready`` (with a deadline, failing early if the
process exits) and yields the base URL; the process is stopped by its handle on exit. A test
that must restart Prometheus on the same data (with blocks added, or rules loaded) calls
``backfill`` once and ``serve_prometheus`` as often as it needs. ``api_data`` reads one HTTP API
answer's ``data``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.ports import free_port

__all__ = ["api_data", "backfill", "free_port", "run_prometheus", "running_until_exit", "serve_prometheus"]

READY_DEADLINE_S = 60.0




def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


def backfill(openmetrics: str, root: Path) -> Path:
    """Write ``openmetrics`` (timestamps in seconds, ending ``# EOF``) under ``root`` as TSDB blocks;
    returns the data directory (``root / "data"``)."""
    om = root / "history.om"
    om.write_text(openmetrics)
    data = root / "data"
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
        check=True, capture_output=True, timeout=120,
    )
    return data


@contextmanager
def serve_prometheus(
    data: Path,
    root: Path,
    *,
    rule_files: Sequence[Path] = (),
    extra_args: Sequence[str] = (),
    extra_config: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """Serve the TSDB under ``data`` (rules evaluated every minute from ``rule_files``) until exit;
    yields the base URL. The config (``extra_config``'s sections added, such as ``scrape_configs``
    or ``remote_write``) and the log (appended to across restarts) go under ``root``."""
    port = free_port()
    config = root / f"prometheus-{port}.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "15s", "evaluation_interval": "1m"},
                "rule_files": [str(p) for p in rule_files],
                **(extra_config or {}),
            }
        )
    )
    log_path = root / "prometheus.log"
    with log_path.open("ab") as log:
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
    with running_until_exit(proc, url, log_path, "prometheus"):
        yield url


@contextmanager
def running_until_exit(proc: subprocess.Popen[bytes], url: str, log_path: Path, name: str) -> Iterator[None]:
    """Wait for ``url``/-/ready (failing early if ``proc`` exits, naming ``name`` and the log's
    tail), hold while the caller's block runs, then stop ``proc`` by its handle."""
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
                    raise RuntimeError(f"{name} not ready in {READY_DEADLINE_S:.0f} s: {_tail(log_path)}")
                try:  # the poll interval doubles as the check that the server has not exited
                    proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    continue
                raise RuntimeError(f"{name} exited with {proc.returncode}: {_tail(log_path)}")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def run_prometheus(openmetrics: str, root: Path, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Backfill ``openmetrics`` under ``root`` and serve it (see the module docstring)."""
    with serve_prometheus(backfill(openmetrics, root), root, extra_args=extra_args) as url:
        yield url


def api_data(client: httpx.Client, url: str, path: str, **params: str) -> dict[str, Any]:
    """The ``data`` of a successful HTTP API answer (``path`` like ``/api/v1/query``)."""
    resp = client.get(f"{url}{path}", params=params)
    resp.raise_for_status()
    body = resp.json()
    assert body["status"] == "success", body
    data = body["data"]
    assert isinstance(data, dict)
    return data
