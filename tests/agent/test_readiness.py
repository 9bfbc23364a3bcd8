"""Readiness conditions: logged once when they start and once when they clear, exposed as gauges."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from redline.agent.readiness import Readiness
from redline.agent.runtime import NOTIFIER_BROKEN_AFTER, Agent
from redline.alerts.manager import AlertEvent, Delivery


def test_a_condition_set_every_tick_is_logged_once_when_it_starts_and_once_when_it_clears(
    caplog: pytest.LogCaptureFixture,
) -> None:
    readiness = Readiness()
    registry = CollectorRegistry()
    registry.register(readiness)
    with caplog.at_level(logging.INFO, logger="redline.agent"):
        for _ in range(5):
            readiness.set_down("alert_database", "alert state x: garbage")
        assert readiness.as_json() == {"ready": False, "reasons": {"alert_database": "alert state x: garbage"}}
        text = generate_latest(registry).decode()
        assert "redline_ready 0.0" in text and 'redline_component_up{component="alert_database"} 0.0' in text
        assert 'redline_component_up{component="data_directory"} 1.0' in text
        for _ in range(5):
            readiness.set_up("alert_database")
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "not ready: alert_database: alert state x: garbage",
        "ready again: alert_database",
    ]
    assert readiness.as_json() == {"ready": True, "reasons": {}}


def event(notifier: str, *, ok: bool, permanent: bool = False) -> AlertEvent:
    delivery = Delivery(notifier, "firing", ok, None if ok else "receiver said 500", 1, permanent)
    return AlertEvent("s/page", "s", "page", "firing", "firing", 0.0, None, (delivery,))


def test_a_notifier_is_broken_after_a_permanent_failure_or_three_in_a_row_until_it_delivers() -> None:
    agent = Agent.__new__(Agent)  # only the bookkeeping under test
    agent.readiness = Readiness()
    agent._notifier_failures = {}
    for _ in range(NOTIFIER_BROKEN_AFTER - 1):
        agent._note_deliveries([event("hook", ok=False)])
    assert agent.readiness.reasons() == {}
    agent._note_deliveries([event("hook", ok=False)])
    assert agent.readiness.reasons() == {"notifier:hook": "failed 3 times in a row: receiver said 500"}
    agent._note_deliveries([event("hook", ok=True)])
    assert agent.readiness.reasons() == {}
    agent._note_deliveries([event("hook", ok=False, permanent=True)])
    assert "notifier:hook" in agent.readiness.reasons()
