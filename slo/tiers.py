"""Burn-rate tiers of an objective: which multiwindow conditions apply to it.

The default tiers depend on the objective's period. Sloth's window catalogue gives them for
three periods (``internal/alert/windows/google-{28,30}d.yaml``, ``examples/windows/7d.yaml`` in
github.com/slok/sloth): the same four window pairs everywhere (1h/5m, 6h/30m, 1d/2h, 3d/6h),
with the share of the budget each tier may spend before it fires:

====== ====== ======= ======== ========
period page 1h page 6h ticket 1d ticket 3d
====== ====== ======= ======== ========
7d     8%     12.5%   20%      42%
28d    2%     5%      10%      10%
30d    2%     5%      10%      10%   (the SRE workbook's)
====== ====== ======= ======== ========

So a Sloth spec gives Sloth's thresholds (7d: page at 0.08 × 168h / 1h = 13.44×). Between 7d
and 28d each share is interpolated linearly in log(period) — which keeps the 1h page at 13.44×
for every period in between, as the two ends have it; below 7d the 7d shares hold, above 28d
the workbook's (the convention ``formats.md`` states: keep the shares, derive the factor).

An objective's ``alerting.tiers`` replaces the defaults (``slo.alert_tiers.objective_tiers``). Pure: no clock,
no I/O.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

from redline.slo.ranking import BurnRateCondition, Severity
from redline.slo.spec import SLOSpec

__all__ = ["CATALOGUE", "default_tiers", "nominal_period_seconds"]

_DAY: Final = 86400.0
_WINDOWS: Final[tuple[tuple[Severity, str, str], ...]] = (
    ("page", "1h", "5m"),
    ("page", "6h", "30m"),
    ("ticket", "1d", "2h"),
    ("ticket", "3d", "6h"),
)
CATALOGUE: Final[dict[float, tuple[float, float, float, float]]] = {
    7 * _DAY: (0.08, 0.125, 0.20, 0.42),
    28 * _DAY: (0.02, 0.05, 0.10, 0.10),
    30 * _DAY: (0.02, 0.05, 0.10, 0.10),
}
"""Budget shares per tier (page 1h, page 6h, ticket 1d, ticket 3d) by period in seconds, as Sloth's
catalogue has them."""

_CALENDAR_SECONDS: Final[dict[str, float]] = {"week": 7 * _DAY, "month": 30 * _DAY, "quarter": 90 * _DAY}


def _shares(period_seconds: float) -> tuple[float, ...]:
    """The four budget shares for a period: the catalogue's, interpolated in log(period) between 7d and 28d."""
    if period_seconds in CATALOGUE:
        return CATALOGUE[period_seconds]
    low, high = 7 * _DAY, 28 * _DAY
    if period_seconds <= low:
        return CATALOGUE[low]
    if period_seconds >= high:
        return CATALOGUE[high]
    t = math.log(period_seconds / low) / math.log(high / low)
    return tuple(
        math.exp((1 - t) * math.log(a) + t * math.log(b)) for a, b in zip(CATALOGUE[low], CATALOGUE[high], strict=True)
    )


@lru_cache(maxsize=64)  # a handful of periods; every objective of one period shares its tiers
def default_tiers(period_seconds: float) -> tuple[BurnRateCondition, ...]:
    """The default tiers for an objective whose budget covers ``period_seconds``.

    Raises ``ValueError`` when the period is not a positive number of seconds.
    """
    if not (period_seconds > 0 and math.isfinite(period_seconds)):
        raise ValueError(f"period_seconds must be a positive number, got {period_seconds!r}")
    return tuple(
        BurnRateCondition(severity, long_w, short_w, share)
        for (severity, long_w, short_w), share in zip(_WINDOWS, _shares(period_seconds), strict=True)
    )


def nominal_period_seconds(spec: SLOSpec) -> float:
    """The period an objective's tiers are derived from: its rolling window, or a calendar period's
    nominal length (week 7d, month 30d, quarter 90d) or a fixed one's length — the rolling rules
    have one factor per tier."""
    if spec.calendar is None:
        return spec.window
    return spec.calendar.length_seconds or _CALENDAR_SECONDS[spec.calendar.period]
