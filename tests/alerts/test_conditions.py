"""Guardrail, dark-objective, meta and watchdog alerts through the alert manager on a real alerts.sqlite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from redline.alerts.conditions import ConditionPolicy, SelfHealth
from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.state import AlertStateStore
from redline.slo.results import ObjectiveResult
from tests.alerts.conftest import T0, FakeClock, Harness, objective, report
from tests.alerts.test_alert_policy import Recorder

CROSSES = 1_715_990_400.0  # 2024-05-18T00:00:00Z


def budget(status: str, crosses_at: float | None, reason: str) -> ObjectiveResult:
    return replace(
        objective("gpu-budget", status=status, reason=reason),  # type: ignore[arg-type]
        kind="budget", dimension="cost", details={"crosses_at": crosses_at},
    )


class Agent:
    def __init__(self, path: Path, **policy: Any) -> None:
        self.path, self.policy = path, policy
        self.clock = FakeClock()
        self.recorder = Recorder()
        self.health = SelfHealth()
        self._open()

    def _open(self) -> None:
        self.state = AlertStateStore(self.path)
        self.conditions = HysteresisStore(self.path, scope="conditions")
        self.harness = Harness(  # the outbox delivered at each tick, on the fake clock
            self.state, [self.recorder], self.clock, repeat_interval_s=None,
            conditions=ConditionPolicy(self.conditions, health=lambda: self.health, **self.policy),
        )
        self.manager = self.harness.manager

    def restart(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        self.state.close()
        self.conditions.close()

    def tick(self, at: float, *objectives: ObjectiveResult) -> None:
        self.clock.now = at
        self.harness.process(report(*objectives, at=at))

    def sent(self) -> list[tuple[str, str, str]]:
        return [(n.status, n.labels["alertname"], n.annotations["summary"]) for n in self.recorder.sent]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    agents: list[Agent] = []

    def _make(**policy: Any) -> Agent:
        agents.append(Agent(tmp_path / "alerts.sqlite", **policy))
        return agents[-1]

    yield _make
    for a in agents:
        a.close()


def test_projected_spend_over_budget_tickets_with_the_crossing_date_and_resolves(make: Any) -> None:
    agent = make()
    over = "spent $600 of $1,000 (60%); at $40/day the month ends at $1,240 — over by $240 on 2024-05-18"
    agent.tick(T0, budget("warning", CROSSES, over))
    agent.tick(T0 + 60, budget("ok", None, "spent $600 of $1,000 (60%); at $10/day the month ends at $910"))
    (first, last) = agent.recorder.sent
    assert (first.status, first.key, first.severity) == ("firing", "gpu-budget/forecast", "ticket")
    assert first.annotations["summary"] == f"gpu-budget: projected to cross its budget on 2024-05-18: {over}"
    assert first.annotations["crosses_at"] == "2024-05-18T00:00:00+00:00"
    assert (last.status, last.annotations["summary"]) == (
        "resolved", "gpu-budget: resolved — projected spend is within the budget now: spent $600 of $1,000 (60%); "
        "at $10/day the month ends at $910"
    )


def test_cost_per_1k_over_its_max_and_a_breached_freshness_objective_ticket(make: Any) -> None:
    agent = make()
    cost = replace(objective("cost-per-1k", status="breached", reason="$0.52 per 1k (max $0.40): 30% over"),
                   kind="cost_per_1k", dimension="cost")
    stale = replace(objective("features-freshness", status="breached", reason="budget overspent: 130% used"),
                    kind="freshness", dimension="data")
    agent.tick(T0, cost, stale)
    assert sorted(agent.sent()) == [
        ("firing", "RedlineCostPer1kOverMax",
         "cost-per-1k: cost per 1k inferences over its maximum: $0.52 per 1k (max $0.40): 30% over"),
        ("firing", "RedlineFreshnessBreached",
         "features-freshness: freshness objective breached: budget overspent: 130% used"),
    ]


def test_an_objective_without_data_for_dark_after_alerts_once_even_across_a_restart(make: Any) -> None:
    agent = make(dark_after_s=900.0)
    dark = objective(status="no_data", budget_remaining=None, reason="no events in the last 30d")
    agent.tick(T0, dark)
    agent.tick(T0 + 600, dark)
    agent.restart()
    agent.tick(T0 + 899, dark)
    assert agent.recorder.sent == []
    agent.tick(T0 + 900, dark)
    agent.tick(T0 + 960, dark)
    assert agent.sent() == [("firing", "RedlineSLIDark", "api-availability: the SLI has gone dark: no data for at "
                                                         "least 15m (no events in the last 30d)")]
    assert agent.recorder.sent[0].starts_at == T0  # when it went dark, kept across the restart
    agent.tick(T0 + 1000, objective(status="ok"))
    assert agent.sent()[-1] == ("resolved", "RedlineSLIDark", "api-availability: resolved — the SLI has data again")


def test_a_failed_evaluation_says_nothing_about_darkness(make: Any) -> None:
    agent = make(dark_after_s=60.0)
    agent.tick(T0, objective(status="no_data", budget_remaining=None))
    agent.tick(T0 + 120, objective(status="no_data", budget_remaining=None, error="boom"))
    agent.tick(T0 + 130, objective(status="no_data", budget_remaining=None))
    assert [s[:2] for s in agent.sent()] == [("firing", "RedlineSLIDark")]  # one, at T0 + 130


def test_a_source_down_longer_than_n_and_a_broken_notifier_alert_about_redline(make: Any) -> None:
    agent = make(source_down_for_s=300.0)
    error = "source 'api' (http://127.0.0.1:1/metrics): cannot connect: [Errno 111] Connection refused"
    agent.health = SelfHealth({"api": error, "db": None}, {"notifier:slack": "gave up after 1h: HTTP 500"},
                              ("slack", "log"))
    agent.tick(T0)
    assert agent.sent() == [("firing", "RedlineComponentDown", "Redline: notifier slack is broken: gave up after 1h: "
                                                               "HTTP 500")]
    agent.tick(T0 + 300)
    assert agent.recorder.sent[-1].labels == {
        "alertname": "RedlineSourceDown", "slo": "redline", "severity": "ticket", "source": "api"
    }
    assert agent.recorder.sent[-1].annotations["summary"] == f"source api has been down for at least 5m: {error}"
    agent.health = SelfHealth({"api": None, "db": None}, {}, ("slack", "log"))
    agent.tick(T0 + 360)
    assert sorted(s[0] + " " + s[2] for s in agent.sent()[2:]) == [
        "resolved Redline: notifier slack works again", "resolved source api answers again"
    ]


def test_the_watchdog_always_fires_and_repeats_on_its_schedule(make: Any) -> None:
    agent = make(watchdog_interval_s=600.0)
    for minute in range(0, 31, 5):
        agent.tick(T0 + 60 * minute)
    watchdog = [n for n in agent.recorder.sent if n.labels["alertname"] == "Watchdog"]
    assert [(n.status, n.starts_at, n.severity) for n in watchdog] == [("firing", T0, "none")] * 4  # 0, 10, 20, 30


def test_condition_alerts_carry_their_objectives_team_owner_and_runbook(make: Any) -> None:
    from redline.alerts.conditions import objective_context
    from redline.slo.spec import GuardrailSpec, SLOSpec

    spec = SLOSpec.model_validate({
        "name": "api-availability", "objective": 99.9, "labels": {"team": "inference"},
        "runbook_url": "https://runbooks.example/api",
        "sli": {"ratio": {"errors": 'r{code="500"}', "total": "r"}},
        "alerting": {"labels": {"tier_owner": "sre"}, "annotations": {"owner": "ml-platform", "summary": "x"}},
    })
    guard = GuardrailSpec.model_validate({"name": "gpu-budget", "labels": {"team": "finops"},
                                          "budget": {"spend": "spend_usd_total", "limit": 1000}})
    agent = make(dark_after_s=0.0, context=objective_context([spec], [guard]))
    agent.tick(T0, objective(status="no_data", budget_remaining=None),
               budget("warning", CROSSES, "over by $240 on 2024-05-18"))
    by_key = {n.key: n for n in agent.recorder.sent}
    dark, forecast = by_key["api-availability/dark"], by_key["gpu-budget/forecast"]
    assert (dark.labels["team"], dark.labels["tier_owner"], dark.labels["alertname"]) == (
        "inference", "sre", "RedlineSLIDark"
    )
    assert (dark.annotations["owner"], dark.annotations["runbook_url"]) == ("ml-platform", "https://runbooks.example/api")
    assert dark.annotations["summary"].startswith("api-availability: the SLI has gone dark")
    assert forecast.labels["team"] == "finops"


def test_a_meta_alert_about_a_broken_notifier_goes_out_through_the_other_routes(tmp_path: Path) -> None:
    from redline.alerts.routing import Route, Router
    from tests.alerts.conftest import PAGE_BURN, RecordingNotifier

    clock = FakeClock()
    state = AlertStateStore(tmp_path / "alerts.sqlite")
    conditions = HysteresisStore(tmp_path / "alerts.sqlite", scope="conditions")
    slack, pager = RecordingNotifier("slack"), RecordingNotifier("pager")
    health = [SelfHealth({}, {"notifier:slack": "failed permanently: HTTP 404"}, ("slack", "pager"))]
    router = Router((Route(("slack", "pager"), match={"severity": "page"}),), default=("pager",))
    harness = Harness(state, [slack, pager], clock, router=router, repeat_interval_s=None,
                      conditions=ConditionPolicy(conditions, health=lambda: health[0]))
    try:
        api = objective("api", burn=PAGE_BURN)
        harness.process(report(api))
        keys = {n.name: sorted(s.key for s in n.sent) for n in (slack, pager)}
        assert keys == {"slack": ["api/page"], "pager": ["api/page", "redline/component/notifier:slack"]}
        meta = pager.sent[-1] if pager.sent[-1].key.startswith("redline/") else pager.sent[0]
        assert (meta.labels["notifier"], meta.labels["component"]) == ("slack", "notifier:slack")
        assert harness.manager.route(meta.labels) == ("pager",)
        assert harness.manager.router.route(meta.labels) == ("slack", "pager")  # what exclusion removes
        # an objective's own `notifier` label never reroutes it: only Redline's meta-alerts are
        assert harness.manager.route({"slo": "api", "severity": "page", "notifier": "slack"}) == ("slack", "pager")

        clock.now += 60  # now the pager breaks and slack works again: the other way round
        health[0] = SelfHealth({}, {"notifier:pager": "gave up after 1h: HTTP 500"}, ("slack", "pager"))
        harness.process(report(api, at=clock.now))
        assert [(n.status, n.key) for n in slack.sent[1:]] == [("firing", "redline/component/notifier:pager")]
        assert [(n.status, n.key) for n in pager.sent[2:]] == [("resolved", "redline/component/notifier:slack")]
    finally:
        state.close()
        conditions.close()
