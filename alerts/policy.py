"""Multiwindow, multi-burn-rate alert conditions (SRE workbook, chapter "Alerting on SLOs").

A condition spends ``budget_share`` of the error budget over ``long_window``; the burn rate
that does so is ``factor = budget_share × slo_window_seconds / long_window_seconds`` (14.4 for
2% over 1 h of a 30 d window). The condition holds when the burn rate over *both* the long
and the short window is strictly above that factor: the long window proves the burn is
significant, the short one that it is still going on (so the alert resets quickly).

Everything here is pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from redline.kernel.units import parse_duration
from redline.slo.ranking import MULTIWINDOW_CONDITIONS, alert_factor
from redline.slo.results import ObjectiveResult

__all__ = ["DEFAULT_POLICY", "BurnRateCondition", "Firing", "Severity", "burn_rate", "evaluate_policy"]

Severity = Literal["page", "ticket"]
_SEVERITIES: Final = ("page", "ticket")


@dataclass(frozen=True)
class BurnRateCondition:
    """One long/short window pair and the share of the budget it may spend before alerting.

    Raises ``ValueError`` naming the field when a window is not a duration, the short window
    is not shorter than the long one, or the share is not in (0, 1].
    """

    severity: Severity
    long_window: str
    short_window: str
    budget_share: float
    _long_s: float = field(init=False, repr=False, compare=False)
    _short_s: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.severity not in _SEVERITIES:
            raise ValueError(f"severity must be 'page' or 'ticket', got {self.severity!r}")
        try:
            long_s = parse_duration(self.long_window)
        except ValueError as exc:
            raise ValueError(f"long_window: {exc}") from exc
        try:
            short_s = parse_duration(self.short_window)
        except ValueError as exc:
            raise ValueError(f"short_window: {exc}") from exc
        if short_s >= long_s:
            raise ValueError(
                f"short_window {self.short_window!r} must be shorter than long_window {self.long_window!r}"
            )
        if not (0.0 < self.budget_share <= 1.0) or not math.isfinite(self.budget_share):
            raise ValueError(f"budget_share must be in (0, 1], got {self.budget_share!r}")
        # Parsed once: evaluation runs every tick for every objective.
        object.__setattr__(self, "_long_s", long_s)
        object.__setattr__(self, "_short_s", short_s)

    @property
    def long_window_seconds(self) -> float:
        """The long window in seconds."""
        return self._long_s

    @property
    def short_window_seconds(self) -> float:
        """The short window in seconds."""
        return self._short_s

    def factor(self, slo_window_seconds: float) -> float:
        """The burn rate spending ``budget_share`` of a ``slo_window_seconds`` budget in ``long_window``."""
        if not (slo_window_seconds > 0 and math.isfinite(slo_window_seconds)):
            raise ValueError(f"slo_window_seconds must be a positive number, got {slo_window_seconds!r}")
        return alert_factor(self.budget_share, self.long_window_seconds, slo_window_seconds)

    def holds(self, objective: ObjectiveResult) -> bool:
        """Whether both windows burn strictly above the factor (a missing rate never exceeds)."""
        return _firing(self, objective) is not None


DEFAULT_POLICY: Final[tuple[BurnRateCondition, ...]] = tuple(
    BurnRateCondition(c.severity, c.long_window, c.short_window, c.budget_share)
    for c in MULTIWINDOW_CONDITIONS
)
"""The SRE workbook's four conditions: for a 30 d window 14.4×, 6×, 3× and 1×."""


@dataclass(frozen=True)
class Firing:
    """A condition that holds for one objective, with the numbers that made it hold."""

    slo: str
    severity: Severity
    condition: BurnRateCondition
    factor: float
    long_burn_rate: float
    short_burn_rate: float


def burn_rate(burn_rates: Mapping[str, float | None], window: str) -> float | None:
    """The burn rate for ``window``: by its key, else by a key of equal duration (``60m`` = ``1h``).

    ``None`` when absent or not a finite number.
    """
    value = burn_rates.get(window)
    if value is None and window not in burn_rates:
        seconds = parse_duration(window)
        for key, candidate in burn_rates.items():
            try:
                same = parse_duration(key) == seconds
            except ValueError:
                continue
            if same:
                value = candidate
                break
    if value is None or not math.isfinite(value):
        return None
    return value


LEVEL_KINDS: Final = frozenset({"cost_per_1k"})
"""Guardrails whose burn rate is a level (cost per 1k over its maximum), not a pace of spending a
budget: a condition holds when both windows are above 1×, and they raise tickets, never pages.
Budgets keep the workbook factors: their burn rate is spend pace against the even pace, so
14.4× over 1 h and 5 m is a runaway spend worth a page."""


def _firing(condition: BurnRateCondition, objective: ObjectiveResult) -> Firing | None:
    if objective.status in ("no_data", "low_traffic"):  # a handful of failures never pages
        return None
    if objective.kind in LEVEL_KINDS:
        if condition.severity != "ticket":
            return None
        factor = 1.0
    else:
        factor = condition.factor(objective.window_seconds)
    long_rate = burn_rate(objective.burn_rates, condition.long_window)
    short_rate = burn_rate(objective.burn_rates, condition.short_window)
    if long_rate is None or short_rate is None or long_rate <= factor or short_rate <= factor:
        return None
    return Firing(objective.name, condition.severity, condition, factor, long_rate, short_rate)


def evaluate_policy(
    objective: ObjectiveResult, policy: Sequence[BurnRateCondition] = DEFAULT_POLICY
) -> list[Firing]:
    """Every condition of ``policy`` that holds for ``objective``, in policy order.

    An objective whose status is ``no_data`` or ``low_traffic`` never fires.
    """
    found = (_firing(condition, objective) for condition in policy)
    return [f for f in found if f is not None]
