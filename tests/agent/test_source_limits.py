"""A source over one of its limits, scraped from a real target on 127.0.0.1 by the agent: each
failure is counted per source and limit, ``/readyz`` names the breach while it lasts, and the log
has one line when it starts and one when it clears, whatever the number of scrapes between."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from redline.agent.runtime import Agent
from redline.config import LoadedConfig, parse_config
from tests.agent.test_agent import FakeClock, metric_value
from tests.collectors.http_target import send, serve

WITHIN = b'm{a="1"} 1\n'
MANY = "".join(f'm{{a="{i}"}} {i}\n' for i in range(20)).encode()

# limit -> (its setting, a body over it)
OVER = {
    "sample_limit": ("sample_limit: 10", MANY),
    "label_limit": ("label_limit: 4", b'm{a="1",b="2",c="3"} 1\n'),  # a, b, c, source and __name__
    "label_name_length_limit": ("label_name_length_limit: 10", b'm{a_very_long_label_name="1"} 1\n'),
    "label_value_length_limit": ("label_value_length_limit: 10", b'm{a="0123456789abcdef"} 1\n'),
    "body_size_limit": ("body_size_limit: 100", MANY),
}


def config(tmp_path: Path, url: str, setting: str) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources: [{{name: api, kind: prometheus_scrape, url: "{url}", interval: 15s, timeout: 2s, {setting}}}]
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


@pytest.mark.parametrize("limit", sorted(OVER))
def test_a_target_over_a_limit_is_counted_named_on_readyz_and_logged_once_each_way(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, limit: str
) -> None:
    setting, over_body = OVER[limit]
    body = {"now": over_body}
    caplog.set_level(logging.INFO, logger="redline.agent")
    with serve(lambda h: send(h, 200, body["now"], "text/plain; version=0.0.4")) as base:
        clock = FakeClock()
        agent = Agent(config(tmp_path, base + "/metrics", setting), env={}, clock=clock)
        agent.start_server()
        root = f"http://127.0.0.1:{agent.metrics_port}"
        try:
            for _ in range(4):
                health = agent.collect("api")
                clock.t += 15
                assert not health.ok and health.samples == 0
            assert health.error is not None and f"{limit} " in health.error and " exceeded: " in health.error
            ready = httpx.get(f"{root}/readyz", timeout=5)
            assert ready.status_code == 503
            assert ready.json()["reasons"] == {"source_limit:api": health.error}
            metrics = httpx.get(f"{root}/metrics", timeout=5).text
            assert metric_value(metrics, "redline_source_limit_failures_total", {"source": "api", "limit": limit}) == 4
            assert metric_value(metrics, "redline_component_up", {"component": "source_limit:api"}) == 0
            assert metric_value(metrics, "redline_source_up", {"source": "api"}) == 0
            others = [n for n in OVER if n != limit]
            for other in others:
                with pytest.raises(AssertionError, match="not exposed"):
                    metric_value(metrics, "redline_source_limit_failures_total", {"source": "api", "limit": other})

            body["now"] = WITHIN
            for _ in range(3):
                assert agent.collect("api").ok
                clock.t += 15
            ready = httpx.get(f"{root}/readyz", timeout=5)
            assert (ready.status_code, ready.json()) == (200, {"ready": True, "reasons": {}})
            metrics = httpx.get(f"{root}/metrics", timeout=5).text
            assert metric_value(metrics, "redline_component_up", {"component": "source_limit:api"}) == 1
            assert metric_value(metrics, "redline_source_limit_failures_total", {"source": "api", "limit": limit}) == 4
        finally:
            agent.shutdown()
    lines = [r.getMessage() for r in caplog.records if "api" in r.getMessage()]
    assert lines[0] == f"not ready: source_limit:api: {health.error}"
    assert lines[1].startswith("ready again: source_limit:api (down for 60 s)")
    assert len(lines) == 2, lines


def test_a_growing_target_over_sample_limit_is_one_breach_not_a_line_per_scrape(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    count = {"series": 20}

    def respond(handler: object) -> None:
        text = "".join(f'm{{a="{i}"}} {i}\n' for i in range(count["series"]))
        send(handler, 200, text.encode(), "text/plain; version=0.0.4")  # type: ignore[arg-type]

    caplog.set_level(logging.INFO, logger="redline.agent")
    with serve(respond) as base:
        clock = FakeClock()
        agent = Agent(config(tmp_path, base + "/metrics", "sample_limit: 10"), env={}, clock=clock, serve_metrics=False)
        try:
            errors = set()
            for _ in range(5):
                health = agent.collect("api")
                errors.add(health.error)
                count["series"] += 1
                clock.t += 15
            assert len(errors) == 5  # each scrape's count differs ...
            assert agent.readiness.reasons() == {"source_limit:api": health.error}  # ... the newest is shown
            assert (
                agent.metrics.registry.get_sample_value(
                    "redline_source_limit_failures_total", {"source": "api", "limit": "sample_limit"}
                )
                == 5
            )
        finally:
            agent.shutdown()
    lines = [r.getMessage() for r in caplog.records if "api" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("not ready: source_limit:api: ")
