"""Guardrails through the burn-rate policy: a budget's pace pages like an SLO's burn; a cost per
1k is a level, which only tickets when both windows are over its maximum."""

from __future__ import annotations

from redline.alerts.policy import evaluate_policy
from redline.slo.results import ObjectiveResult


def guardrail(kind: str, window_s: float, rates: dict[str, float | None]) -> ObjectiveResult:
    return ObjectiveResult(
        name="g", kind=kind, dimension="cost", target=0.05, window="1d", window_seconds=window_s,
        value=0.03, budget_remaining=0.4, burn_rates=rates, time_to_breach_seconds=None, status="ok",
        reason="", events=1.0,
    )


def test_a_cost_per_1k_under_its_maximum_never_fires_whatever_its_window() -> None:
    calm = {w: 0.55 for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")}
    assert evaluate_policy(guardrail("cost_per_1k", 86400.0, calm)) == []


def test_a_cost_per_1k_over_its_maximum_in_both_windows_tickets_and_never_pages() -> None:
    hot = {w: 20.0 for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")}
    firings = evaluate_policy(guardrail("cost_per_1k", 7 * 86400.0, hot))
    assert {f.severity for f in firings} == {"ticket"}
    assert {f.factor for f in firings} == {1.0}
    only_short = {**hot, "1d": 0.9, "3d": 0.9}
    assert evaluate_policy(guardrail("cost_per_1k", 7 * 86400.0, only_short)) == []


def test_a_budget_spending_at_a_runaway_pace_pages_like_a_burning_slo() -> None:
    rates: dict[str, float | None] = {"5m": 30.0, "1h": 20.0, "30m": 1.0, "6h": 1.0, "2h": 1.0, "1d": 1.0, "3d": 1.0}
    (page,) = evaluate_policy(guardrail("budget", 30 * 86400.0, rates))
    assert (page.severity, round(page.factor, 6)) == ("page", 14.4)
