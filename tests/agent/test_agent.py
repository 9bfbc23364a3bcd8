"""The agent end to end, in process: real HTTP targets on 127.0.0.1, a real store in tmp_path,
a real webhook receiver; the scheduler is not started — the test calls the jobs itself with a
fake clock, so nothing waits on wall time."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from redline.agent.runtime import Agent
from redline.config import LoadedConfig, parse_config
from redline.demo.receiver import WebhookReceiver

START_S = 1_764_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.t = START_S

    def __call__(self) -> float:
        return self.t


class Target:
    """A service exposing http_requests_total by code through prometheus_client."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "Requests.", ["service", "code"], registry=self.registry
        )
        for code in ("200", "500"):
            self.requests.labels("api", code)
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    r.start()
    yield r
    r.shutdown()


def config(tmp_path: Path, target_url: str, down_port: int) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources:
  - {{name: api, kind: prometheus_scrape, url: "{target_url}", interval: 15s, timeout: 2s}}
  - {{name: down, kind: prometheus_scrape, url: "http://127.0.0.1:{down_port}/metrics", timeout: 1s}}
slos:
  - name: api-availability
    objective: 99.9
    sli:
      ratio:
        errors: http_requests_total{{service="api",code=~"5.."}}
        total: http_requests_total{{service="api"}}
alerting:
  notifiers: [{{name: oncall, kind: webhook, url_env: TEST_HOOK}}]
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def scrape_an_hour_with_a_final_incident(agent: Agent, target: Target, clock: FakeClock) -> None:
    """241 scrapes 15 s apart: 100 good requests per step; in the last 40 steps also 20 errors."""
    for step in range(241):
        target.requests.labels("api", "200").inc(100)
        if step >= 201:
            target.requests.labels("api", "500").inc(20)
        clock.t += 15
        health = agent.collect("api")
        assert health.ok, health.error


def metric_value(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not exposed")


def test_agent_scrapes_evaluates_pages_and_exposes_its_metrics(
    tmp_path: Path, target: Target, receiver: WebhookReceiver
) -> None:
    clock = FakeClock()
    agent = Agent(config(tmp_path, target.url, closed_port()), env={"TEST_HOOK": receiver.url}, clock=clock)
    agent.start_server()
    try:
        scrape_an_hour_with_a_final_incident(agent, target, clock)
        down = agent.collect("down")
        report = agent.evaluate()

        assert not down.ok
        assert down.error is not None and "down" in down.error and "127.0.0.1" in down.error
        (objective,) = report.objectives
        # During the incident every step adds 20 errors out of 120 requests: 1/6 error ratio.
        assert objective.burn_rates["5m"] == pytest.approx((20 / 120) / 0.001, rel=1e-9)
        # Over the last hour (240 intervals): 800 errors of 24,000 + 800 requests.
        assert objective.burn_rates["1h"] == pytest.approx((800 / 24_800) / 0.001, rel=1e-9)
        assert objective.status == "breached"

        # Both workbook pairs burn, but only the page notifies: it inhibits the ticket.
        assert receiver.wait_for(1, timeout_s=10)
        by_severity = {p["alerts"][0]["labels"]["severity"]: p for p in receiver.received}
        assert sorted(by_severity) == ["page"]
        page = by_severity["page"]
        assert page["status"] == "firing"
        assert page["alerts"][0]["labels"]["slo"] == "api-availability"

        body = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5).text
        assert metric_value(body, "redline_slo_burn_rate", {"slo": "api-availability", "window": "5m"}) == (
            pytest.approx(objective.burn_rates["5m"])
        )
        assert metric_value(body, "redline_source_up", {"source": "api"}) == 1.0
        assert metric_value(body, "redline_source_up", {"source": "down"}) == 0.0
        health = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/healthz", timeout=5).json()
        assert health["sources"]["down"]["ok"] is False
    finally:
        agent.shutdown()


def test_a_restarted_agent_reloads_history_and_does_not_page_again(
    tmp_path: Path, target: Target, receiver: WebhookReceiver
) -> None:
    clock = FakeClock()
    loaded = config(tmp_path, target.url, closed_port())
    first = Agent(loaded, env={"TEST_HOOK": receiver.url}, clock=clock, serve_metrics=False)
    scrape_an_hour_with_a_final_incident(first, target, clock)
    before = first.evaluate()
    assert receiver.wait_for(1, timeout_s=10)  # the page (it inhibits the ticket)
    first.compact()  # batches merged into a day segment: the restart reads it back whole
    assert not list((tmp_path / "data" / "batches").glob("*.parquet"))
    first.shutdown()

    second = Agent(loaded, env={"TEST_HOOK": receiver.url}, clock=clock, serve_metrics=False)
    try:
        assert second.load_history() == 241 * 2  # both code series, every scrape
        after = second.evaluate()
        assert after.objectives[0].burn_rates == before.objectives[0].burn_rates
        assert after.objectives[0].budget_remaining == pytest.approx(before.objectives[0].budget_remaining)
        assert len(receiver.received) == 1  # still firing: no second page, and still no ticket
    finally:
        second.shutdown()


def test_a_new_member_of_a_grouped_objective_gets_its_own_budget_from_its_stored_history(
    tmp_path: Path, target: Target
) -> None:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources: [{{name: api, kind: prometheus_scrape, url: "{target.url}", interval: 15s, timeout: 2s}}]
slos:
  - name: availability
    objective: 99
    group_by: [service]
    sli: {{ratio: {{errors: 'http_requests_total{{code="500"}}', total: http_requests_total}}}}
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    clock = FakeClock()
    agent = Agent(LoadedConfig(parse_config(text, path), path), env={}, clock=clock, serve_metrics=False)
    try:
        agent.load_history()
        for step in range(10):
            target.requests.labels("api", "200").inc(99)
            target.requests.labels("api", "500").inc(1)
            if step >= 4:  # a second service appears, failing 10%
                target.requests.labels("batch", "200").inc(9)
                target.requests.labels("batch", "500").inc(1)
            clock.t += 15
            agent.collect("api")
        report = agent.evaluate()
        by_name = {o.name: o for o in report.objectives}
        assert set(by_name) == {'availability{service="api"}', 'availability{service="batch"}'}
        assert report.objectives[0].name == 'availability{service="batch"}'  # the worst member first
        assert by_name['availability{service="batch"}'].burn_rates["1h"] == pytest.approx(10.0)
        assert by_name['availability{service="api"}'].burn_rates["1h"] == pytest.approx(1.0)
    finally:
        agent.shutdown()
