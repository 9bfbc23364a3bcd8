"""The live alert policy: per-objective tiers, for:, the resolve delay, inhibition, identity,
all through AlertManager on a real SQLite file, restarts included."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from redline.alerts.alert_policy import AlertPolicy
from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.notifiers import Notification, Notifier
from redline.alerts.state import AlertStateStore
from redline.slo.spec import SLOSpec
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, objective, report

TICKET_BURN = {"5m": 4.0, "30m": 4.0, "1h": 4.0, "2h": 4.0, "6h": 4.0, "1d": 4.0, "3d": 0.5}
"""Above the 3× ticket tier (1d/2h), below every page tier."""


class Recorder(Notifier):
    """A notifier that keeps what it was sent."""

    def __init__(self) -> None:
        self.name = "recorder"
        self.sent: list[Notification] = []

    def send(self, notifications: Sequence[Notification]) -> None:
        self.sent.extend(notifications)

    def statuses(self) -> list[tuple[str, str]]:
        return [(n.status, n.severity) for n in self.sent]


def spec(**alerting: Any) -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": "api-availability",
            "objective": 99.9,
            "sli": {"ratio": {"errors": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}},
            "alerting": alerting,
        }
    )


class Agent:
    """An AlertManager with its policy on one alerts.sqlite; ``restart()`` reopens both from disk."""

    def __init__(self, path: Path, specs: list[SLOSpec], clock: FakeClock) -> None:
        self.path, self.specs, self.clock = path, specs, clock
        self.recorder = Recorder()
        self._open()

    def _open(self) -> None:
        self.state = AlertStateStore(self.path)
        self.hysteresis = HysteresisStore(self.path)
        self.harness = Harness(  # the outbox delivered at each tick, on the fake clock
            self.state,
            [self.recorder],
            self.clock,
            specs=self.specs,
            repeat_interval_s=None,
            alert_policy=AlertPolicy(self.specs, self.hysteresis),
        )
        self.manager = self.harness.manager

    def restart(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        self.state.close()
        self.hysteresis.close()

    def tick(self, burn: dict[str, float | None] | None, *, at: float, **kw: Any) -> None:
        self.clock.now = at
        self.harness.process(report(objective(burn=burn, **kw), at=at))


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[Any]:
    agents: list[Agent] = []

    def _make(specs: list[SLOSpec]) -> Agent:
        agents.append(Agent(tmp_path / "alerts.sqlite", specs, FakeClock()))
        return agents[-1]

    yield _make
    for a in agents:
        a.close()


def test_for_2m_survives_a_restart_and_fires_2m_after_the_condition_first_held(make_agent: Any) -> None:
    agent = make_agent(
        [spec(tiers=[{"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4, "for": "2m"}])]
    )
    agent.tick(PAGE_BURN, at=T0)
    agent.tick(PAGE_BURN, at=T0 + 60)
    agent.restart()
    agent.tick(PAGE_BURN, at=T0 + 90)
    assert agent.recorder.sent == []
    agent.tick(PAGE_BURN, at=T0 + 120)
    assert agent.recorder.statuses() == [("firing", "page")]


def test_keep_firing_for_survives_a_restart(make_agent: Any) -> None:
    agent = make_agent([spec()])  # default tiers: page 1h/5m keeps firing 5 min
    agent.tick(PAGE_BURN, at=T0)
    agent.tick(None, at=T0 + 60)  # below every threshold: the resolve delay starts at T0
    agent.restart()
    agent.tick(None, at=T0 + 299)
    assert agent.recorder.statuses() == [("firing", "page")]
    agent.tick(None, at=T0 + 300)
    assert agent.recorder.statuses() == [("firing", "page"), ("resolved", "page")]


def test_a_flapping_condition_with_for_2m_pages_once_over_30_minutes(make_agent: Any) -> None:
    agent = make_agent(
        [spec(tiers=[{"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4, "for": "2m"}])]
    )
    for i in range(60):  # 30 s evaluations for 30 min: 2.5 min burning, 30 s not
        agent.tick(PAGE_BURN if i % 6 != 5 else None, at=T0 + 30 * i)
    assert agent.recorder.statuses() == [("firing", "page")]


def test_a_page_inhibits_a_new_ticket_and_the_page_carries_its_tier(make_agent: Any) -> None:
    agent = make_agent([spec()])
    both = {**PAGE_BURN, "1d": 4.0, "2h": 4.0}
    agent.tick(both, at=T0)
    assert agent.recorder.statuses() == [("firing", "page")]
    assert agent.recorder.sent[0].labels["tier"] == "page-1h-5m"


def test_a_disabled_page_role_never_pages_but_still_tickets(make_agent: Any) -> None:
    agent = make_agent([spec(page={"disable": True})])
    agent.tick({**PAGE_BURN, "1d": 4.0, "2h": 4.0}, at=T0)
    assert agent.recorder.statuses() == [("firing", "ticket")]
    assert agent.recorder.sent[0].labels["tier"] == "ticket-1d-2h"


def test_alert_name_labels_and_annotations_come_from_the_spec(make_agent: Any) -> None:
    agent = make_agent(
        [
            spec(
                name="ApiHighErrorRate",
                labels={"team": "inference"},
                annotations={"owner": "ml-platform", "runbook_url": "https://runbooks.example/api"},
                page={"labels": {"routing": "pagerduty"}, "annotations": {"summary": "API burning fast"}},
            )
        ]
    )
    agent.tick(PAGE_BURN, at=T0)
    sent = agent.recorder.sent[0]
    assert dict(sent.labels) == {
        "alertname": "ApiHighErrorRate",
        "slo": "api-availability",
        "severity": "page",
        "tier": "page-1h-5m",
        "dimension": "users",
        "kind": "availability",
        "team": "inference",
        "routing": "pagerduty",
    }
    assert (sent.annotations["owner"], sent.annotations["runbook_url"], sent.annotations["summary"]) == (
        "ml-platform",
        "https://runbooks.example/api",
        "API burning fast",
    )
    assert sent.annotations["condition"] == "1h/5m > 14.4×"


def test_the_resolved_notice_says_the_burn_dropped_below_the_threshold_and_what_it_is(make_agent: Any) -> None:
    agent = make_agent([spec()])
    agent.tick(PAGE_BURN, at=T0)
    agent.tick({"1h": 3.25, "5m": 0.5}, at=T0 + 600)
    resolved = agent.recorder.sent[-1]
    assert resolved.status == "resolved"
    assert resolved.annotations["summary"] == (
        "api-availability: resolved — the burn dropped below the threshold of 14.4×: now 3.25× over 1h and 0.5× over 5m"
    )
    assert resolved.annotations["burn_rate_1h"] == "3.25"


def test_a_low_traffic_objective_does_not_page_on_a_handful_of_failures(make_agent: Any) -> None:
    agent = make_agent([spec()])
    # 3 requests, 2 failed: burn rates in the hundreds, but the objective is not judged
    burn = dict.fromkeys(("5m", "30m", "1h", "2h", "6h", "1d", "3d"), 666.0)
    agent.tick(burn, at=T0, status="low_traffic")
    agent.tick(burn, at=T0 + 60, status="low_traffic")
    assert agent.recorder.sent == []


def test_missing_data_keeps_a_firing_page_past_its_resolve_delay(make_agent: Any) -> None:
    agent = make_agent([spec()])
    agent.tick(PAGE_BURN, at=T0)
    agent.tick(None, at=T0 + 3600, status="no_data", budget_remaining=None)
    assert agent.recorder.statuses() == [("firing", "page")]
    rows = agent.hysteresis.load()[0]
    assert rows[("api-availability", "page-1h-5m")].firing_since == T0


def test_a_tier_still_holding_at_the_last_save_keeps_firing_a_delay_from_that_save(make_agent: Any) -> None:
    agent = make_agent([spec()])
    agent.tick(PAGE_BURN, at=T0)
    agent.tick(PAGE_BURN, at=T0 + 60)  # still holding: its row is not rewritten, only the save time
    agent.restart()
    agent.tick(None, at=T0 + 359)
    assert agent.recorder.statuses() == [("firing", "page")]
    agent.tick(None, at=T0 + 360)  # 5 min after it last held (T0 + 60), not after it fired
    assert agent.recorder.statuses() == [("firing", "page"), ("resolved", "page")]


def test_steady_firing_rewrites_no_tier_row(make_agent: Any) -> None:
    import sqlite3

    agent = make_agent([spec()])
    agent.tick(PAGE_BURN, at=T0)
    conn = sqlite3.connect(agent.path, isolation_level=None)
    conn.execute("CREATE TABLE writes (n INTEGER)")
    conn.execute("INSERT INTO writes VALUES (0)")
    for event in ("INSERT", "UPDATE", "DELETE"):
        conn.execute(f"CREATE TRIGGER count_{event.lower()} AFTER {event} ON alert_tiers "
                     "BEGIN UPDATE writes SET n = n + 1; END")
    for minute in range(1, 6):
        agent.tick(PAGE_BURN, at=T0 + 60 * minute)
    assert conn.execute("SELECT n FROM writes").fetchone() == (0,)
    assert conn.execute("SELECT tier, state, last_held, holding FROM alert_tiers").fetchall() == [
        ("page-1h-5m", "firing", None, 1)
    ]
    assert conn.execute("SELECT at FROM alert_evaluated WHERE scope = 'tiers'").fetchone() == (T0 + 300,)
    agent.tick(None, at=T0 + 360)  # stops holding: one write, its last_held now explicit
    assert conn.execute("SELECT n FROM writes").fetchone() == (1,)
    assert conn.execute("SELECT last_held, holding FROM alert_tiers").fetchall() == [(T0 + 300, 0)]
    conn.close()


@pytest.mark.parametrize("status", ["warning", "no_data", "low_traffic"])
def test_the_tick_reads_each_tier_as_condition_holds_does(status: Any) -> None:
    from redline.alerts.alert_policy import _holds, condition_holds
    from redline.alerts.policy import DEFAULT_POLICY

    plan = tuple((c, c.severity, c.factor(30 * 86400.0)) for c in DEFAULT_POLICY)
    cases: list[dict[str, float | None]] = [
        {"1h": 20.0, "5m": 20.0}, {"1h": 20.0, "5m": 14.4}, {"1h": 14.4, "5m": 20.0},
        {"1h": 20.0, "5m": None}, {"1h": 1.0, "5m": None}, {"1h": float("inf"), "5m": 20.0},
        {"1h": float("nan"), "5m": 20.0}, {"1h": 0.0, "5m": float("nan")},
    ]
    for burn in cases:
        o = objective(burn={"6h": 7.0, "30m": 5.0, "1d": 4.0, "2h": 4.0, "3d": 0.5, **burn}, status=status)
        expected = tuple(condition_holds(c, o, factor)[0] for c, _, factor in plan)
        assert _holds(plan, o) == expected, burn
    failed = objective(burn={"1h": 20.0, "5m": 20.0}, error="boom")
    assert _holds(plan, failed) == (None,) * len(plan)
    assert _holds(plan, objective(burn={"1h": 20.0, "5m": 20.0}))[0] is True


def test_a_steadily_firing_objective_dropped_from_the_report_resolves(make_agent: Any) -> None:
    agent = make_agent([spec()])
    both = ("api-availability", "api-latency")
    for minute in range(4):  # both fire, then stay firing (settled: nothing looked at one by one)
        at = T0 + 60 * minute
        agent.clock.now = at
        agent.harness.process(report(*(objective(n, PAGE_BURN) for n in both), at=at))
    assert sorted(agent.recorder.statuses()) == [("firing", "page"), ("firing", "page")]
    agent.clock.now = T0 + 240
    events = agent.harness.process(report(objective("api-availability", PAGE_BURN), at=T0 + 240))
    assert [(e.key, e.current) for e in events] == [("api-latency/page", "resolved")]
    assert {r.key: r.state for r in agent.state.records()} == {
        "api-availability/page": "firing", "api-latency/page": "resolved"
    }
