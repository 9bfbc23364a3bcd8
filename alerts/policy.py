"""Multiwindow, multi-burn-rate alert conditions (SRE workbook, chapter "Alerting on SLOs").

A condition (``redline.slo.ranking.BurnRateCondition``, the engine's own) spends
``budget_share`` of the error budget over ``long_window``; the burn rate that does so is
``factor = budget_share × slo_window_seconds / long_window_seconds`` (14.4 for 2% over 1 h of a
30 d window). The condition holds when the burn rate over *both* the long and the short window
is strictly above that factor: the long window proves the burn is significant, the short one
that it is still going on (so the alert resets quickly). Here a window is also found under a
key of equal duration, and a guardrail whose burn rate is a level uses a factor of 1.

Everything here is pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from redline.kernel.units import parse_duration
from redline.slo.ranking import MULTIWINDOW_CONDITIONS, BurnRateCondition, Severity
from redline.slo.results import ObjectiveResult

__all__ = ["DEFAULT_POLICY", "Firing", "burn_rate", "evaluate_policy"]

DEFAULT_POLICY: Final[tuple[BurnRateCondition, ...]] = MULTIWINDOW_CONDITIONS
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
