"""A grouped objective whose label grows past ``max_groups`` while the agent runs: the overflow
(objective, label, values, members dropped) is on /metrics, /healthz and ``redline status``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from redline.agent.runtime import Agent
from redline.agent.status import StatusWithStore, compute_status, render_text
from redline.config import LoadedConfig, parse_config
from tests.agent.test_agent import FakeClock, metric_value


class ModelTarget:
    """A service counting requests per model; models are added as the test goes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("req_total", "Requests.", ["model", "code"], registry=self.registry)
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)

    def add_models(self, first: int, last: int) -> None:
        for i in range(first, last):
            self.requests.labels(f"m{i}", "200").inc(10)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def models() -> Iterator[ModelTarget]:
    t = ModelTarget()
    yield t
    t.close()


def config(tmp_path: Path, port: int) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources: [{{name: api, kind: prometheus_scrape, url: "http://127.0.0.1:{port}/metrics", interval: 15s}}]
slos:
  - name: inference
    objective: 99
    group_by: [model]
    max_groups: 3
    sli: {{ratio: {{errors: 'req_total{{code="500"}}', total: req_total}}}}
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def test_a_label_growing_past_max_groups_at_run_time_is_reported_with_the_label_and_the_count_dropped(
    tmp_path: Path, models: ModelTarget
) -> None:
    loaded = config(tmp_path, models.server.server_port)
    clock = FakeClock()
    agent = Agent(loaded, env={}, clock=clock)
    agent.start_server()
    root = f"http://127.0.0.1:{agent.metrics_port}"
    try:
        models.add_models(0, 2)
        assert agent.collect("api").ok
        assert agent.group_overflows == []
        assert httpx.get(f"{root}/healthz", timeout=5).json()["group_overflows"] == []

        models.add_models(2, 7)  # 7 models now, 3 allowed
        clock.t += 15
        assert agent.collect("api").ok
        assert sorted(agent.evaluator.names) == [f'inference{{model="m{i}"}}' for i in range(3)]
        metrics = httpx.get(f"{root}/metrics", timeout=5).text
        assert metric_value(metrics, "redline_slo_group_members_dropped", {"slo": "inference"}) == 4
        assert metric_value(metrics, "redline_slo_group_label_values", {"slo": "inference", "label": "model"}) == 7
        (overflow,) = httpx.get(f"{root}/healthz", timeout=5).json()["group_overflows"]
        assert {k: overflow[k] for k in ("objective", "found", "max_groups", "dropped", "values_per_label")} == {
            "objective": "inference",
            "found": 7,
            "max_groups": 3,
            "dropped": 4,
            "values_per_label": {"model": 7},
        }
    finally:
        agent.shutdown()

    report = compute_status(loaded, clock.t)
    assert isinstance(report, StatusWithStore)
    (shown,) = report.to_json()["group_overflows"]
    assert (shown["dropped"], shown["values_per_label"]) == (4, {"model": 7})
    assert (
        "  4 dropped: objective 'inference': group_by model (7 values) would create 7 objectives, over max_groups 3; "
        "only the first 3 (by value) are created"
    ) in render_text(report).splitlines()


def test_an_objective_already_full_reports_the_members_its_label_grows_beyond_max_groups(
    tmp_path: Path, models: ModelTarget
) -> None:
    loaded = config(tmp_path, models.server.server_port)
    clock = FakeClock()
    agent = Agent(loaded, env={}, clock=clock, serve_metrics=False)
    try:
        models.add_models(0, 3)  # exactly max_groups: nothing dropped
        assert agent.collect("api").ok
        assert len(agent.evaluator.names) == 3 and agent.group_overflows == []
        evaluator = agent.evaluator

        models.add_models(3, 5)  # full: not expanded again, but reported
        clock.t += 15
        assert agent.collect("api").ok
        assert agent.evaluator is evaluator  # no rebuild for members it will not create
        (overflow,) = agent.group_overflows
        assert (overflow.found, overflow.max_groups, overflow.values_per_label) == (5, 3, (("model", 5),))
        registry = agent.metrics.registry
        assert registry.get_sample_value("redline_slo_group_members_dropped", {"slo": "inference"}) == 2

        models.add_models(5, 6)  # within OVERFLOW_RECOUNT_S of the last count: not counted again yet
        clock.t += 15
        assert agent.collect("api").ok
        assert registry.get_sample_value("redline_slo_group_members_dropped", {"slo": "inference"}) == 2
        clock.t += 60
        assert agent.collect("api").ok
        assert registry.get_sample_value("redline_slo_group_members_dropped", {"slo": "inference"}) == 3
    finally:
        agent.shutdown()
