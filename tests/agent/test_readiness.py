"""Readiness conditions: logged once when they start and once when they clear, exposed as gauges."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from redline.agent.readiness import Readiness
from redline.agent.runtime import Agent
from redline.alerts.health import FAILING_AFTER, HealthRegistry


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


def test_a_notifier_is_not_ready_after_a_permanent_failure_or_three_in_a_row_until_it_delivers() -> None:
    agent = Agent.__new__(Agent)  # only the bookkeeping under test
    agent.readiness = Readiness()
    health = HealthRegistry()
    health.listen(agent._note_notifier)
    for _ in range(FAILING_AFTER - 1):
        health.retried("hook", "HTTP 500", 0.0)
    assert agent.readiness.reasons() == {}
    health.retried("hook", "HTTP 500", 0.0)
    assert agent.readiness.reasons() == {"notifier:hook": "failed 3 times in a row: HTTP 500"}
    health.sent("hook", 1, 1.0)
    assert agent.readiness.reasons() == {}
    health.failed("hook", "HTTP 404", 2.0, "s/page")
    assert agent.readiness.reasons() == {"notifier:hook": "failed permanently: HTTP 404"}
    assert health.snapshot()["hook"].broken
    health.sent("hook", 1, 3.0)
    assert agent.readiness.reasons() == {}
    health.gave_up("hook", "gave up after 40 attempts; last error: HTTP 503", 4.0, "s/page")
    assert agent.readiness.reasons() == {"notifier:hook": "gave up after 40 attempts; last error: HTTP 503"}


def test_an_agent_that_has_not_evaluated_yet_is_starting_at_info_and_a_stale_evaluation_is_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    age: dict[str, str] = {"evaluation_age": "starting: no evaluation yet"}
    readiness = Readiness(lambda: dict(age))
    with caplog.at_level(logging.INFO, logger="redline.agent"):
        assert readiness.as_json()["ready"] is False
        age.clear()
        assert readiness.as_json()["ready"] is True
        age["evaluation_age"] = "the last evaluation is 95 s old (more than three intervals)"
        readiness.as_json()
        age.clear()
        readiness.as_json()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "not ready: evaluation_age: starting: no evaluation yet"),
        ("INFO", "ready again: evaluation_age"),
        ("ERROR", "not ready: evaluation_age: the last evaluation is 95 s old (more than three intervals)"),
        ("WARNING", "ready again: evaluation_age"),
    ]
