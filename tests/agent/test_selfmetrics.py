"""The agent's own /metrics: objective and guardrail state read from the latest report."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from redline.agent.selfmetrics import AgentMetrics
from redline.collectors.base import SourceHealth
from redline.slo.results import ObjectiveResult, StatusReport


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
