"""Remote write out, against a real Prometheus (Debian's 2.42) started with
``--web.enable-remote-write-receiver``: Redline's computed series, pushed after an evaluation, are
queried back through Prometheus's HTTP API with the values Redline computed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redline.agent.runtime import Agent
from redline.config import LoadedConfig, parse_config
from tests.conformance.counter_target import Target, wait_for
from tests.prometheus_server import api_data, serve_prometheus


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


def config(tmp_path: Path, target: Target, prometheus: str) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources:
  - {{name: api, kind: prometheus_scrape, url: "http://{target.address}/metrics", interval: 15s}}
slos:
  - name: api-availability
    objective: 99
    labels: {{team: web}}
    sli: {{ratio: {{errors: 'http_requests_total{{code="500"}}', total: http_requests_total}}}}
remote_write:
  - name: central
    url: "{prometheus}/api/v1/write"
    external_labels: {{cluster: eu-1}}
    min_backoff: 100ms
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def test_computed_series_pushed_to_prometheus_are_queried_back_equal(tmp_path: Path, target: Target) -> None:
    (tmp_path / "prom").mkdir()
    with serve_prometheus(
        tmp_path / "prom" / "data", tmp_path / "prom", extra_args=["--web.enable-remote-write-receiver"]
    ) as prometheus:
        agent = Agent(config(tmp_path, target, prometheus), env={}, clock=time.time)
        agent.start_server()
        try:
            assert agent.collect("api").ok
            target.requests.labels("200").inc(950)
            target.requests.labels("500").inc(50)
            assert agent.collect("api").ok
            report = agent.evaluate()
            queue = agent.remote_write[0]
            wait_for(lambda: queue.counts["sent"] > 0 and not queue.records(), "the series sent")
        finally:
            agent.shutdown()
        (objective,) = report.objectives
        with httpx.Client(timeout=10) as client:

            def value(query: str) -> float:
                data = api_data(client, prometheus, "/api/v1/query", query=query, time=f"{report.at:.3f}")
                (item,) = data["result"]
                assert item["metric"]["cluster"] == "eu-1" and item["metric"]["team"] == "web"
                return float(item["value"][1])

            labels = 'slo="api-availability",cluster="eu-1"'
            assert value(f"slo:sli:ratio{{{labels}}}") == pytest.approx(objective.sli, rel=1e-12)
            assert objective.sli == pytest.approx(0.95, rel=1e-12)
            assert value(f"slo:objective:ratio{{{labels}}}") == pytest.approx(0.99, rel=1e-12)
            assert value(f"slo:error_budget:remaining{{{labels}}}") == pytest.approx(
                objective.budget_remaining, rel=1e-12
            )
            assert value(f'slo:current_burn_rate:ratio{{{labels},window="5m"}}') == pytest.approx(
                objective.burn_rates["5m"], rel=1e-12
            )
            assert value(f"slo:sli_error:ratio_rate5m{{{labels}}}") == pytest.approx(
                objective.burn_rates["5m"] * 0.01, rel=1e-9
            )
    assert queue.counts["dropped_rejected"] == 0
