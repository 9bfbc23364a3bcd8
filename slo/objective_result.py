"""The frozen result of one objective from its numbers: shared by every evaluator of SLOs.

The engine (counters, slices) and the query-SLI evaluator (ratios answered by a PromQL backend)
reach the same figures — burn rate per window, the window's error ratio, events — and turn them
into an ``ObjectiveResult`` the same way: time to breach from the first known of the 1h, 6h and
1d burn rates, status and reason from ``slo.ranking.classify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redline.kernel.units import format_duration
from redline.slo.alert_tiers import objective_tiers
from redline.slo.ranking import BurnRateCondition, classify
from redline.slo.results import ObjectiveResult
from redline.slo.spec import BURN_WINDOWS, SLOSpec

__all__ = ["TTB_BURN_WINDOWS", "ResultBasis", "objective_result"]

TTB_BURN_WINDOWS: tuple[str, ...] = ("1h", "6h", "1d")
"""Burn windows used for time to breach, first available wins."""

_TTB_COLUMNS: tuple[tuple[str, int], ...] = tuple((w, BURN_WINDOWS.index(w)) for w in TTB_BURN_WINDOWS)


@dataclass
class ResultBasis:
    """What every result of one objective shares, computed once per objective."""

    spec: SLOSpec
    event_unit: str = "events"
    target: float = field(init=False)
    window: str = field(init=False)
    """The window as written (``30d``), or a calendar period's name (``month``)."""
    kind: str = field(init=False)
    dimension: str = field(init=False)
    tiers: tuple[BurnRateCondition, ...] = field(init=False)
    """The burn-rate tiers its status is judged by (its period's defaults or its own)."""

    def __post_init__(self) -> None:
        spec = self.spec
        self.target = spec.target
        self.window = format_duration(spec.window) if spec.calendar is None else spec.calendar.period
        self.kind = spec.kind
        self.dimension = spec.effective_dimension
        self.tiers = objective_tiers(spec)


def objective_result(
    obj: ResultBasis, burns: list[float | None], slo_known: bool, sli: float, budget_left: float,
    events: float, detail: str = "", period: tuple[int, int] | None = None, at_ms: int = 0,
    details: Mapping[str, Any] | None = None,
) -> ObjectiveResult:
    """The frozen result from the objective's numbers (burn rates in ``BURN_WINDOWS`` order,
    ``None`` where unknown); ``detail`` is appended to the reason; ``period`` is a calendar
    objective's current one; ``details`` are the kind's own figures (``ObjectiveResult.details``)."""
    spec = obj.spec
    window_s = spec.window if period is None else (period[1] - period[0]) / 1000.0
    burn_rates = dict(zip(BURN_WINDOWS, burns, strict=True))
    budget_remaining = ttb = None
    burn_window: str | None = None
    if slo_known:
        budget_remaining = budget_left
        for w, i in _TTB_COLUMNS:  # the first known of the 1h, 6h, 1d burn rates
            burn = burns[i]
            if burn is not None:
                burn_window = w
                break
        else:
            burn = None
        if budget_remaining <= 0:
            ttb = 0.0
        elif burn is not None and burn > 0:
            ttb = budget_remaining * window_s / burn
            if period is not None and ttb > (period[1] - at_ms) / 1000.0:
                ttb = None  # lasts past the period's end: not breaching this period
    status, reason = classify(
        window=obj.window,
        window_seconds=window_s,
        budget_remaining=budget_remaining,
        burn_rates=burn_rates,
        time_to_breach_s=ttb,
        burn_window=burn_window,
        events=events if slo_known else 0.0,
        min_events=spec.min_events,
        event_unit=obj.event_unit,
        window_phrase=None if period is None else f"this {obj.window}",
        tiers=obj.tiers,
    )
    if detail:
        reason = f"{reason}; {detail}"
    return ObjectiveResult(
        name=spec.name,
        kind=obj.kind,
        dimension=obj.dimension,
        target=obj.target,
        window=obj.window,
        window_seconds=window_s,
        value=sli if slo_known else None,
        budget_remaining=budget_remaining,
        burn_rates=burn_rates,
        time_to_breach_seconds=ttb,
        status=status,
        reason=reason,
        events=events if slo_known else 0.0,
        details=details,
    )
