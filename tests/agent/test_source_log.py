"""A failing source is two lines in the log (it starts failing, it recovers), not one per
collection; a change of reason while it fails is one more line. Every failure is still counted."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client import start_http_server

from redline.agent.runtime import Agent
from redline.collectors.base import SourceHealth
from redline.config import LoadedConfig, parse_config
from tests.agent.test_agent import FakeClock, Target, metric_value, target  # noqa: F401 - fixture


def config(tmp_path: Path, url: str) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources: [{{name: api, kind: prometheus_scrape, url: "{url}", interval: 15s, timeout: 2s}}]
slos:
  - name: api-availability
    objective: 99.9
    sli: {{ratio: {{errors: 'http_requests_total{{code="500"}}', total: http_requests_total}}}}
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def source_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("source api")]


def test_a_target_down_for_many_collections_is_two_log_lines(
    tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    clock = FakeClock()
    agent = Agent(config(tmp_path, target.url), env={}, clock=clock)
    agent.start_server()
    port = target.server.server_port
    caplog.set_level(logging.INFO, logger="redline.agent")
    try:
        assert agent.collect("api").ok
        target.close()  # down: connection refused on 127.0.0.1
        for _ in range(20):
            clock.t += 15
            assert not agent.collect("api").ok
        server, thread = start_http_server(port, addr="127.0.0.1", registry=target.registry)  # back
        try:
            for _ in range(5):
                clock.t += 15
                assert agent.collect("api").ok
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        lines = source_lines(caplog)
        assert len(lines) == 2, lines
        assert lines[0].startswith("source api is failing: ") and "127.0.0.1" in lines[0]
        assert lines[1].startswith("source api recovered")
        body = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5).text
        assert metric_value(body, "redline_source_failures_total", {"source": "api"}) == 20
    finally:
        agent.shutdown()


def test_a_new_reason_while_failing_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(config(tmp_path, "http://127.0.0.1:9/metrics"), env={}, clock=FakeClock(), serve_metrics=False)
    caplog.set_level(logging.INFO, logger="redline.agent")
    try:
        def failing(reason: str) -> SourceHealth:
            return SourceHealth(source="api", ok=False, error=reason, timestamp_ms=0, duration_seconds=0.0, samples=0)

        for reason in ("down", "down", "over sample_limit", "over sample_limit", "down"):
            agent._source_log.log_change("api", failing(reason))
        lines = source_lines(caplog)
        assert lines == [
            "source api is failing: down",
            "source api is still failing, now: over sample_limit",
            "source api is still failing, now: down",
        ]
    finally:
        agent.shutdown()
