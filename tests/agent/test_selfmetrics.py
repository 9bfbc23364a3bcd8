"""The agent's own /metrics: objective and guardrail state read from the latest report."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from redline.agent.runtime import Agent
from redline.agent.selfmetrics import AgentMetrics
from redline.collectors.base import SourceHealth
from redline.slo.results import ObjectiveResult, StatusReport
from tests.agent.test_agent import FakeClock, Target, metric_value, target  # noqa: F401 - fixture
from tests.agent.test_source_log import config as source_config


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): float(s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_objectives_guardrails_and_sources_are_exposed_from_the_latest_report() -> None:
    budget = ObjectiveResult(
        name="ml-monthly", kind="budget", dimension="cost", target=30_000.0, window="month",
        window_seconds=30 * 86400.0, value=24_000.0, budget_remaining=0.2,
        burn_rates={"1h": 2.4, "5m": None}, time_to_breach_seconds=216_000.0, status="warning",
        reason="spent $24,000 of $30,000", events=24_000.0,
        details={"currency": "USD", "spent": 24_000.0, "spend": 24_000.0, "forecast": 72_000.0},
    )
    report = StatusReport(at=1.0, dimensions=(), objectives=(budget,))
    health = {"api": SourceHealth("api", False, "source 'api': down", 0.5, 0, 1000)}
    metrics = AgentMetrics(lambda: report, lambda: health)
    got = values(generate_latest(metrics.registry).decode())
    assert got[("redline_guardrail_spend", (("currency", "USD"), ("guardrail", "ml-monthly")))] == 24_000.0
    assert got[("redline_guardrail_forecast", (("currency", "USD"), ("guardrail", "ml-monthly")))] == 72_000.0
    assert got[("redline_slo_burn_rate", (("slo", "ml-monthly"), ("window", "1h")))] == 2.4
    assert ("redline_slo_burn_rate", (("slo", "ml-monthly"), ("window", "5m"))) not in got  # no data: absent
    assert got[("redline_slo_time_to_breach_seconds", (("slo", "ml-monthly"),))] == 216_000.0
    states = {
        labels[2][1]: v
        for (name, labels), v in got.items()
        if name == "redline_slo_status" and labels[1][1] == "ml-monthly"
    }
    assert states == {"ok": 0.0, "warning": 1.0, "breached": 0.0, "no_data": 0.0, "low_traffic": 0.0}
    # a guardrail's limit is money under its own name, never an objective ratio; its used share is a ratio
    assert got[("redline_guardrail_limit", (("currency", "USD"), ("guardrail", "ml-monthly")))] == 30_000.0
    assert got[("redline_slo_budget_used_ratio", (("slo", "ml-monthly"),))] == 0.8
    assert not any(name in ("redline_slo_objective_ratio", "redline_slo_sli_ratio") for name, _ in got)
    assert got[("redline_source_up", (("source", "api"),))] == 0.0


def test_a_throughput_objective_exposes_how_much_of_its_capacity_it_uses() -> None:
    rows = ObjectiveResult(
        name="rows", kind="throughput", dimension="data", target=0.99, window="30d",
        window_seconds=30 * 86400.0, value=0.995, budget_remaining=0.5, burn_rates={"1h": 0.5},
        time_to_breach_seconds=None, status="ok", reason="ok", events=1000.0,
        details={"rate": 4.5e6, "per": "1h", "min_rate": 1e6, "capacity": 5e6, "capacity_used": 0.9,
                 "capacity_headroom": 0.1},
    )
    metrics = AgentMetrics(lambda: StatusReport(at=1.0, dimensions=(), objectives=(rows,)), dict)
    got = values(generate_latest(metrics.registry).decode())
    assert got[("redline_slo_capacity_used_ratio", (("slo", "rows"),))] == 0.9
    assert not any(name in ("redline_guardrail_spend", "redline_guardrail_limit") for name, _ in got)
    assert got[("redline_slo_sli_ratio", (("slo", "rows"),))] == 0.995
    assert got[("redline_slo_objective_ratio", (("slo", "rows"),))] == 0.99
    assert got[("redline_slo_budget_used_ratio", (("slo", "rows"),))] == 0.5


def test_store_bytes_active_series_scrape_figures_and_the_process_are_on_a_real_metrics_scrape(
    tmp_path: Path, target: Target  # noqa: F811 - fixture
) -> None:
    clock = FakeClock()
    agent = Agent(source_config(tmp_path, target.url), env={}, clock=clock)
    agent.start_server()
    try:
        healths = []
        for _ in range(3):
            healths.append(agent.collect("api"))
            clock.t += 15
        batches = sorted((tmp_path / "data" / "batches").iterdir())
        body = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5).text
        assert metric_value(body, "redline_store_bytes", {"dir": "batches"}) == sum(p.stat().st_size for p in batches)
        assert metric_value(body, "redline_store_bytes", {"dir": "segments"}) == 0
        series = agent.store.series().height  # what one collection of the target holds
        assert series >= 2
        assert metric_value(body, "redline_store_active_series", {}) == series
        assert metric_value(body, "redline_source_last_series", {"source": "api"}) == series
        assert metric_value(body, "redline_source_last_samples", {"source": "api"}) == healths[-1].samples
        last_duration = metric_value(body, "redline_source_last_duration_seconds", {"source": "api"})
        assert last_duration == healths[-1].duration_seconds
        assert metric_value(body, "redline_source_collect_duration_seconds_count", {"source": "api"}) == 3
        assert metric_value(body, "redline_source_samples_total", {"source": "api"}) == sum(h.samples for h in healths)
        assert metric_value(body, "process_resident_memory_bytes", {}) > 10 * 2**20
        assert metric_value(body, "process_open_fds", {}) >= 1
        assert metric_value(body, "process_cpu_seconds_total", {}) > 0

        agent.compact()
        segments = list((tmp_path / "data" / "segments").iterdir())
        body = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5).text
        assert metric_value(body, "redline_store_bytes", {"dir": "batches"}) == 0
        assert metric_value(body, "redline_store_bytes", {"dir": "segments"}) == sum(p.stat().st_size for p in segments)
        assert metric_value(body, "redline_store_bytes", {"dir": "quarantine"}) == 0

        target.close()  # a failed collection brings no series
        agent.collect("api")
        body = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5).text
        assert metric_value(body, "redline_store_active_series", {}) == 0
    finally:
        agent.shutdown()
