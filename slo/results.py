"""Frozen results of an evaluation, and their ``redline status --json`` form.

The JSON contract (README "status --json"): one object with ``at`` (Unix seconds),
``dimensions`` and ``objectives``, both sorted nearest to breaking first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from redline.kernel.money import format_money

__all__ = ["GUARDRAIL_KINDS", "DimensionResult", "ObjectiveResult", "Status", "StatusReport"]

Status = Literal["ok", "warning", "breached", "no_data", "low_traffic"]

GUARDRAIL_KINDS = frozenset({"budget", "cost_per_1k"})


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class ObjectiveResult:
    """One objective at one instant: one meaning per figure, whatever renders it.

    ``value`` and ``target`` are in the objective's ``unit``: for an SLO the compliance over the
    window and the objective (``ratio``, 0..1); for a budget guardrail the spend this period and
    the limit (the currency, ``USD``); for a cost-per-1k guardrail the cost per 1,000 inferences
    and its maximum (``USD per 1k``). ``budget_remaining`` is the fraction of the budget left
    (negative when overspent; ``budget_used_ratio`` is 1 − it), ``burn_rates`` the burn rate per
    window (``None`` where that window holds no data), ``time_to_breach_seconds`` how long until
    the budget is spent at the current burn (``None`` when not burning, 0 when breached).
    ``reason`` says in words why the status is what it is.
    """

    name: str
    kind: str
    dimension: str
    target: float
    window: str
    window_seconds: float
    value: float | None
    budget_remaining: float | None
    burn_rates: Mapping[str, float | None]
    time_to_breach_seconds: float | None
    status: Status
    reason: str
    events: float = 0.0
    """Events (or time slices) in the window; the denominator of ``sli``."""
    error: str | None = None
    """Set when the objective could not be evaluated (bad input), with the cause."""
    details: Mapping[str, Any] | None = None
    """Kind-specific figures, JSON-ready; emitted in ``to_json`` only when set: a guardrail's
    spend, forecast and showback; a throughput objective's newest rate, floor and capacity
    headroom."""
    approximate: bool = False
    """Set when the SLI was interpolated inside a histogram bucket (a latency threshold between
    bucket bounds, with ``interpolate: true``)."""

    @property
    def is_guardrail(self) -> bool:
        """A cost guardrail (budget or cost per 1k): its objective is a limit in a currency."""
        return self.kind in GUARDRAIL_KINDS

    @property
    def currency(self) -> str | None:
        """A guardrail's currency (``USD``); ``None`` for an SLO."""
        if not self.is_guardrail or self.details is None:
            return None
        currency = self.details.get("currency")
        return None if currency is None else str(currency)

    @property
    def unit(self) -> str:
        """The unit of ``value`` and ``target``: ``ratio``, a currency (``USD``), or ``USD per 1k``;
        ``money`` for a guardrail whose spend metric names no currency."""
        if not self.is_guardrail:
            return "ratio"
        money = self.currency or "money"
        return f"{money} per 1k" if self.kind == "cost_per_1k" else money

    @property
    def budget_used_ratio(self) -> float | None:
        """The share of the budget spent (0..1, above 1 when overspent): 1 − ``budget_remaining``."""
        return None if self.budget_remaining is None else 1.0 - self.budget_remaining

    @property
    def objective(self) -> float:
        """Deprecated: ``target``."""
        return self.target

    @property
    def sli(self) -> float | None:
        """Deprecated (the ``sli`` key of ``status --json``): an SLO's ``value``; a guardrail's
        ``budget_used_ratio`` — never its value in currency."""
        return self.budget_used_ratio if self.is_guardrail else self.value

    def _text(self, figure: float) -> str:
        if not self.is_guardrail:
            return f"{figure * 100:.10g}%"
        return format_money(figure, self.currency)

    def target_text(self) -> str:
        """The target as people write it: ``99.9%`` for an SLO, ``$4,000`` (the limit in its
        currency) for a guardrail."""
        return self._text(self.target)

    def value_text(self, digits: int = 3) -> str:
        """The value as people read it: ``99.950%`` for an SLO, ``$2,228`` or ``$0.0278`` for a
        guardrail; ``-`` when unknown."""
        if self.value is None:
            return "-"
        if not self.is_guardrail:
            return f"{self.value * 100:.{digits}f}%"
        return self._text(self.value)

    def unusable(self, why: str) -> ObjectiveResult:
        """This result when its input cannot be used: no figures, ``no_data``, ``why`` as the
        reason and the error."""
        return replace(
            self, value=None, budget_remaining=None, burn_rates=dict.fromkeys(self.burn_rates),
            time_to_breach_seconds=None, status="no_data", reason=why, error=why,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``objectives[]`` item of ``status --json``: ``value``, ``unit``, ``target``,
        ``budget_used_ratio`` and ``burn_rates``, plus the deprecated keys the README still
        promises, each with one meaning: ``objective`` (= ``target``), ``sli`` (an SLO's
        ``value``; a guardrail's ``budget_used_ratio``) and ``budget_remaining``."""
        used = _finite_or_none(self.budget_used_ratio)
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "dimension": self.dimension,
            "value": _finite_or_none(self.value),
            "unit": self.unit,
            "target": self.target,
            "budget_used_ratio": used,
            "window": self.window,
            "objective": self.target,
            "sli": _finite_or_none(self.sli),
            "budget_remaining": _finite_or_none(self.budget_remaining),
            "burn_rates": {k: _finite_or_none(v) for k, v in self.burn_rates.items()},
            "time_to_breach_seconds": _finite_or_none(self.time_to_breach_seconds),
            "status": self.status,
            "reason": self.reason,
            "events": self.events,
            "error": self.error,
            "approximate": self.approximate,
        }
        if self.details is not None:
            out["details"] = dict(self.details)
        return out


@dataclass(frozen=True)
class DimensionResult:
    """One scale dimension, summarised by its objective nearest to breaking."""

    name: str
    status: Status
    nearest: str | None
    time_to_breach_seconds: float | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The ``dimensions[]`` item of ``status --json``."""
        return {
            "name": self.name,
            "status": self.status,
            "nearest": self.nearest,
            "time_to_breach_seconds": _finite_or_none(self.time_to_breach_seconds),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class StatusReport:
    """Everything ``redline status`` prints: dimensions and objectives, nearest first."""

    at: float
    dimensions: Sequence[DimensionResult]
    objectives: Sequence[ObjectiveResult] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The whole ``status --json`` object."""
        return {
            "at": self.at,
            "dimensions": [d.to_json() for d in self.dimensions],
            "objectives": [o.to_json() for o in self.objectives],
        }
