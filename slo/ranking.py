"""Statuses, reasons and the "nearest to breaking" order of objectives and dimensions.

Pure functions. The multiwindow burn-rate conditions are the SRE workbook's (page: 2% of the
budget spent in 1 h or 5% in 6 h; ticket: 10% in 1 d or in 3 d), with factors derived from the
budget share so that they hold for any objective window; ``alerts/`` imports the same table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from redline.kernel.units import parse_duration
from redline.slo.results import DimensionResult, ObjectiveResult, Status
from redline.slo.spec import DIMENSIONS

__all__ = [
    "MULTIWINDOW_CONDITIONS",
    "WARNING_BUDGET_LEFT",
    "WARNING_TIME_TO_BREACH_S",
    "BurnRateCondition",
    "Severity",
    "alert_factor",
    "classify",
    "firing_conditions",
    "format_age",
    "objective_sort_key",
    "rank_dimensions",
    "rank_objectives",
]

Severity = Literal["page", "ticket"]
_SEVERITIES: Final = ("page", "ticket")

WARNING_BUDGET_LEFT = 0.25
WARNING_TIME_TO_BREACH_S = 7 * 86400.0


def alert_factor(share: float, long_window_s: float, slo_window_s: float) -> float:
    """Burn-rate factor that spends ``share`` of the budget in ``long_window_s`` (30d, 2%, 1h → 14.4)."""
    return share * slo_window_s / long_window_s


@dataclass(frozen=True)
class BurnRateCondition:
    """A multiwindow burn-rate condition: ``budget_share`` of the budget spent over ``long_window``.

    The factor is ``budget_share × slo_window_seconds / long_window_seconds`` (14.4 for 2% of a
    30 d budget in 1 h); the condition holds when the burn rates over *both* windows are strictly
    above it: the long window proves the burn is significant, the short one that it is still
    going on. The engine's statuses, the generated Prometheus rules, the backtest and the alert
    policy (``redline.alerts.policy``) all use this one class.

    Raises ``ValueError`` naming the field when a window is not a duration, the short window
    is not shorter than the long one, or the share is not in (0, 1].
    """

    severity: Severity
    long_window: str
    short_window: str
    budget_share: float
    for_seconds: float = 0.0
    """How long the condition must hold before it fires (Prometheus's ``for:``); 0 fires at once."""
    keep_firing_for_seconds: float = 0.0
    """How long it keeps firing after it stops holding (Prometheus's ``keep_firing_for``)."""
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

    def holds(self, burn_rates: Mapping[str, float | None], slo_window_seconds: float) -> bool:
        """Whether both windows (looked up by their keys) burn strictly faster than the factor."""
        f = self.factor(slo_window_seconds)
        long_b, short_b = burn_rates.get(self.long_window), burn_rates.get(self.short_window)
        return long_b is not None and short_b is not None and long_b > f and short_b > f


MULTIWINDOW_CONDITIONS: tuple[BurnRateCondition, ...] = (
    BurnRateCondition("page", "1h", "5m", 0.02),
    BurnRateCondition("page", "6h", "30m", 0.05),
    BurnRateCondition("ticket", "1d", "2h", 0.10),
    BurnRateCondition("ticket", "3d", "6h", 0.10),
)


def firing_conditions(
    burn_rates: Mapping[str, float | None], slo_window_s: float,
    tiers: Sequence[BurnRateCondition] = MULTIWINDOW_CONDITIONS,
) -> list[BurnRateCondition]:
    """The conditions of ``tiers`` that hold, in their order (pages first)."""
    return [c for c in tiers if c.holds(burn_rates, slo_window_s)]


def format_age(seconds: float) -> str:
    """A duration as an on-call engineer reads it: ``1d 8h``, ``2h 5m``, ``45m``, ``30s``."""
    s = max(0, round(seconds))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def classify(
    *,
    window: str,
    window_seconds: float,
    budget_remaining: float | None,
    burn_rates: Mapping[str, float | None],
    time_to_breach_s: float | None,
    burn_window: str | None,
    events: float = 0.0,
    min_events: float = 0.0,
    event_unit: str = "events",
    window_phrase: str | None = None,
    tiers: Sequence[BurnRateCondition] = MULTIWINDOW_CONDITIONS,
) -> tuple[Status, str]:
    """Status and a one-sentence reason from an objective's budget, burn rates and time to breach.

    Fewer than ``min_events`` ``events`` (``event_unit``: events or time slices) in the window is
    ``low_traffic``: a handful of events is never judged ok or breached. ``window_phrase`` says
    which window in words (default ``the last 30d``; a calendar period: ``this month``). ``tiers``
    are the objective's burn-rate tiers (``slo.alert_tiers.objective_tiers``): one holding is a warning.
    """
    phrase = window_phrase or f"the last {window}"
    if budget_remaining is None:
        return "no_data", f"no events in {phrase}"
    if events < min_events:
        return "low_traffic", (
            f"low traffic: {events:,.0f} {event_unit} in {phrase} (fewer than {min_events:,.0f}): not judged"
        )
    if budget_remaining <= 0:
        return "breached", f"budget overspent: {_pct(1 - budget_remaining)} used"
    left = f"{_pct(budget_remaining)} of budget left"
    if time_to_breach_s is not None:
        left += f", gone in {format_age(time_to_breach_s)} at this rate"
    firing = firing_conditions(burn_rates, window_seconds, tiers)
    if firing:
        c = firing[0]
        burn = burn_rates[c.long_window]
        assert burn is not None
        factor = c.factor(window_seconds)
        head = f"burning {burn:.1f}× budget over {c.long_window} ({c.severity} at {factor:.3g}×)"
        return "warning", f"{head}; {left}"
    burn_now = burn_rates.get(burn_window) if burn_window is not None else None
    if budget_remaining < WARNING_BUDGET_LEFT:
        return "warning", f"only {left}"
    if time_to_breach_s is not None and time_to_breach_s < WARNING_TIME_TO_BREACH_S:
        assert burn_now is not None
        return "warning", f"burning {burn_now:.1f}× budget over {burn_window}; {left}"
    if burn_now is None or burn_now <= 0:
        return "ok", f"not burning; {left}"
    return "ok", f"burning {burn_now:.2g}× budget over {burn_window}; {left}"


_STATUS_GROUP: dict[str, int] = {"breached": 0, "warning": 1, "ok": 1, "low_traffic": 2, "no_data": 3}


def objective_sort_key(result: ObjectiveResult) -> tuple[int, float, float, str]:
    """Nearest to breaking first: breached, then time to breach (None last), then budget left;
    low traffic after those (not judged), no data last."""
    group = _STATUS_GROUP.get(result.status, 1)
    ttb = result.time_to_breach_seconds
    budget = result.budget_remaining
    return (
        group,
        ttb if ttb is not None else float("inf"),
        budget if budget is not None else float("inf"),
        result.name,
    )


def rank_objectives(results: Iterable[ObjectiveResult]) -> list[ObjectiveResult]:
    """Objectives sorted nearest to breaking first (low_traffic, then no_data after everything else)."""
    return sorted(results, key=objective_sort_key)


def _dimension_key(d: DimensionResult, nearest: ObjectiveResult | None) -> tuple[int, float, float, str]:
    if nearest is None:
        return (4, float("inf"), float("inf"), d.name)
    return (*objective_sort_key(nearest)[:3], d.name)


def rank_dimensions(results: Sequence[ObjectiveResult]) -> list[DimensionResult]:
    """All four dimensions, each summarised by its nearest objective, nearest first."""
    ranked = rank_objectives(results)
    rows: list[tuple[DimensionResult, ObjectiveResult | None]] = []
    for dim in DIMENSIONS:
        nearest = next((r for r in ranked if r.dimension == dim), None)
        if nearest is None:
            rows.append((DimensionResult(dim, "no_data", None, None, "no objectives"), None))
            continue
        rows.append(
            (
                DimensionResult(
                    dim,
                    nearest.status,
                    nearest.name,
                    nearest.time_to_breach_seconds,
                    f"{nearest.name}: {nearest.reason}",
                ),
                nearest,
            )
        )
    rows.sort(key=lambda row: _dimension_key(*row))
    return [d for d, _ in rows]
