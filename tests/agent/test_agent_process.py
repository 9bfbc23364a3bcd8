"""`redline run` as a real process: SIGKILL mid-work, restart, nothing written is lost and the
page already sent is not sent again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from redline.demo.receiver import WebhookReceiver
from redline.store.embedded import SampleStore
from tests.ports import free_port

DEADLINE_S = 60.0


class SteadyFailures(Collector):
    """100 requests per second since start, 10% of them errors: a page-level burn from the start."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def collect(self) -> Iterable[Metric]:
        elapsed = time.monotonic() - self.start
        family = CounterMetricFamily("http_requests", "Requests.", labels=["code"])
        family.add_metric(["200"], 90 * elapsed)
        family.add_metric(["500"], 10 * elapsed)
        yield family




def wait_until(condition: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        try:  # the poll interval doubles as the check that the agent has not exited
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"the agent exited with {proc.returncode} while waiting for {what}")
    raise AssertionError(f"timed out waiting for {what}")


def evaluated_after(port: int, after_s: float) -> bool:
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
    except httpx.HTTPError:
        return False
    return bool(health.get("evaluated_at") and health["evaluated_at"] > after_s)


def pages(receiver: WebhookReceiver) -> list[str]:
    return [
        p["status"]
        for p in receiver.received
        for a in p["alerts"]
        if a["labels"]["severity"] == "page"
    ]


def stored(data_dir: Path) -> set[tuple[str, str, int]]:
    frame = SampleStore(data_dir).read([], 0, 2**62)
    return set(frame.select("metric", "labels", "timestamp").iter_rows())


@pytest.fixture
def target() -> Iterator[str]:
    registry = CollectorRegistry()
    registry.register(SteadyFailures())
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_sigkill_loses_nothing_written_and_the_restart_does_not_page_again(tmp_path: Path, target: str) -> None:
    receiver = WebhookReceiver()
    receiver.start()
    port = free_port()
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        f"""
agent: {{data_dir: ./data, evaluate_interval: 500ms, listen: "127.0.0.1:{port}"}}
sources: [{{name: api, kind: prometheus_scrape, url: "{target}", interval: 500ms, timeout: 500ms}}]
slos:
  - name: api-availability
    objective: 99.9
    sli: {{ratio: {{errors: 'http_requests_total{{code="500"}}', total: http_requests_total}}}}
alerting: {{notifiers: [{{name: oncall, kind: webhook, url_env: TEST_HOOK}}]}}
"""
    )
    env = {**os.environ, "TEST_HOOK": receiver.url}
    cmd = [sys.executable, "-m", "redline.agent.cli", "--log-level", "WARNING", "run", "--config", str(cfg)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first = subprocess.Popen(cmd, env=env)
        procs.append(first)
        wait_until(lambda: pages(receiver) == ["firing"], "the first page", first)
        wait_until(lambda: len(stored(tmp_path / "data")) >= 20, "some stored samples", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.time()
        before = stored(tmp_path / "data")

        second = subprocess.Popen(cmd, env=env)
        procs.append(second)
        # its first evaluation may run before its first scrape is stored: wait for both
        wait_until(
            lambda: evaluated_after(port, killed_at + 2) and len(stored(tmp_path / "data")) > len(before),
            "an evaluation and a stored scrape by the restarted agent",
            second,
        )
        after = stored(tmp_path / "data")
        assert before <= after  # nothing the killed agent had written is lost
        assert len(after) > len(before)  # and the new one keeps writing
        assert pages(receiver) == ["firing"]  # still firing after the restart: not paged again

        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0  # a clean shutdown on SIGTERM
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        receiver.shutdown()
