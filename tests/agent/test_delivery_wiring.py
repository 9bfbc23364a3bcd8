"""The agent wires delivery: a broken notifier shows on /readyz and /metrics, evaluation never waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from redline.agent.runtime import Agent
from redline.config import load_config
from tests.alerts.conftest import PAGE_BURN, Receiver, _make_receiver, objective, report
from tests.config.test_load import GOOD, write


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    """Two real HTTP receivers on 127.0.0.1: one for each notifier."""
    pair = (_make_receiver(), _make_receiver())
    for rec in pair:
        rec.start()
    try:
        yield pair
    finally:
        for rec in pair:
            rec.stop()


def test_a_404_marks_the_notifier_broken_on_readyz_and_metrics_and_the_other_still_pages(
    tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    gone, fine = receivers
    text = GOOD + (
        "alerting:\n  notifiers:\n"
        "    - {name: gone, kind: webhook, url_env: GONE_URL}\n"
        "    - {name: fine, kind: webhook, url_env: FINE_URL}\n"
    )
    gone.statuses = [(404, {}, b"no such hook")]
    env = {"GONE_URL": f"{gone.base_url}/gone", "FINE_URL": f"{fine.base_url}/fine"}
    agent = Agent(load_config(write(tmp_path, text)), env=env, serve_metrics=False)
    broken = threading.Event()
    agent.notifier_health.listen(lambda event: broken.set() if event.kind == "broken" else None)
    try:
        agent._process_alerts(report(objective(burn=PAGE_BURN)))  # the evaluate tick's alert step
        assert broken.wait(timeout=10)  # the readiness heard it first: it listens from the start
        deadline = time.monotonic() + 10  # the other worker records its 2xx just after the answer
        pause = threading.Event()  # never set: the poll's interval
        while agent.notifier_health.snapshot()["fine"].sent == 0 and time.monotonic() < deadline:
            pause.wait(0.01)
        assert [path for path, _, _ in gone.requests + fine.requests] == ["/gone", "/fine"]
        assert agent.readiness.reasons() == {"notifier:gone": "failed permanently: HTTP 404: no such hook"}
        metrics = generate_latest(agent.metrics.registry).decode()
        assert 'redline_notifier_broken{notifier="gone"} 1.0' in metrics
        assert 'redline_notifier_broken{notifier="fine"} 0.0' in metrics
        assert 'redline_notifier_failed_total{notifier="gone"} 1.0' in metrics
        assert 'redline_notifier_sent_total{notifier="fine"} 1.0' in metrics
        assert 'redline_notifier_queue{notifier="gone"} 0.0' in metrics
        assert gone.base_url not in metrics and fine.base_url not in metrics
    finally:
        agent.shutdown()
