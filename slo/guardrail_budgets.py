"""Budget guardrails: the money spent in the calendar period containing ``at``, against a limit.

``BudgetGuardrails.figures`` computes every budget at once, as arrays. With [start, end) the
period containing ``at`` and ``increase`` the summed spend series' increase
(``slo.guardrail_sums``)::

    spend         = increase over [start, at]                 (the money spent this period)
    used          = spend / limit                             (the SLI; budget remaining = 1 − used)
    pace          = limit / (end − start)                     (the spend per second ending on the limit)
    burn[w]       = (increase over w / w) / pace              (None: no spend sample in w)
    run_rate      = increase over the last day / 1 day        (series a day old or more)
                  = spend / (at − max(start, first sample))   (younger series)
    time_left     = end − at
    forecast      = spend + run_rate × time_left
    overrun       = max(0, forecast − limit)
    time_to_limit = (limit − spend) / run_rate
    crosses_at    = at + time_to_limit                        (when not breached, before the end)

Status: ``breached`` when spend ≥ limit, ``warning`` when ``crosses_at`` exists, ``no_data``
without a spend sample this period (never a $0 "ok"), else ``ok``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from redline.kernel.money import format_money
from redline.slo.guardrail_showback import ShowbackView
from redline.slo.guardrail_sums import BURN_MS_ARRAY, BURN_SECONDS, DAY_COLUMN, DAY_MS, Guard, TemplateSums
from redline.slo.results import ObjectiveResult, Status
from redline.slo.spec import BURN_WINDOWS

__all__ = ["BudgetGuard", "BudgetGuardrails"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class BudgetGuard(Guard):
    """One budget guardrail's constants."""

    period: str
    timezone: str
    template: int
    """The spend template (``slo.guardrail_store.Template``)."""
    period_key: int
    """Index into the evaluator's distinct (period, time zone, week start)."""
    limit: float


@dataclass(frozen=True)
class BudgetFigures:
    """Every budget's figures at one instant (module docstring), one entry per budget; times in
    ms, durations and rates in seconds."""

    period_start_ms: I64
    period_end_ms: I64
    period_s: F64
    column: I64
    """The window column of the time since the period start."""
    spend: F64
    no_data: Bools
    burn: F64
    """Budgets × burn windows; read only where ``burn_known``."""
    burn_known: Bools
    has_rate: Bools
    run_rate_s: F64
    forecast: F64
    overrun: F64
    breached: Bools
    crosses: Bools
    time_to_limit_s: F64
    crosses_at_s: F64
    used: F64


class _Row(NamedTuple):
    """One budget's figures as Python values."""

    period_start_ms: int
    period_end_ms: int
    period_s: float
    column: int
    spend: float
    no_data: bool
    burn: list[float | None]
    has_rate: bool
    run_rate_per_day: float
    forecast: float
    overrun: float
    breached: bool
    crosses: bool
    time_to_limit_s: float
    crosses_at_s: float
    used: float


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class BudgetGuardrails:
    """The budget guardrails of a configuration: their constants as arrays (one row per budget)."""

    def __init__(self, guards: Sequence[BudgetGuard]) -> None:
        self.guards = list(guards)
        self.template = np.asarray([g.template for g in guards], dtype=np.int64)
        self.period_key = np.asarray([g.period_key for g in guards], dtype=np.int64)
        self._limit = np.asarray([g.limit for g in guards], dtype=np.float64)
        self._limit_text = [format_money(g.limit, g.currency) for g in guards]

    def figures(
        self, at_ms: int, bounds: list[tuple[int, int]], period_columns: I64, sums: TemplateSums
    ) -> BudgetFigures:
        """The module docstring's figures; ``bounds`` and ``period_columns`` per distinct period."""
        start_ms = np.asarray([start for start, _ in bounds], dtype=np.int64)[self.period_key]
        end_ms = np.asarray([end for _, end in bounds], dtype=np.int64)[self.period_key]
        period_s = (end_ms - start_ms) / 1000.0
        column = period_columns[self.period_key]
        increase = sums.increase[self.template]
        spend = increase[np.arange(len(self.guards)), column]
        newest_ms, first_ms = sums.newest_ms[self.template], sums.first_ms[self.template]
        limit = self._limit
        day_old = first_ms <= at_ms - DAY_MS
        time_left_s = (end_ms - at_ms) / 1000.0
        breached = spend >= limit
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pace = limit / period_s
            burn = (increase[:, : len(BURN_SECONDS)] / BURN_SECONDS) / pace[:, None]
            elapsed_s = (at_ms - np.maximum(start_ms, first_ms)) / 1000.0
            has_rate = day_old | (elapsed_s > 0)
            run_rate_s = np.where(day_old, increase[:, DAY_COLUMN] / 86400.0, spend / elapsed_s)
            forecast = spend + np.where(has_rate, run_rate_s, 0.0) * time_left_s
            time_to_limit_s = (limit - spend) / run_rate_s
            return BudgetFigures(
                start_ms, end_ms, period_s, column, spend, newest_ms < start_ms, burn,
                newest_ms[:, None] > at_ms - BURN_MS_ARRAY, has_rate, run_rate_s, forecast,
                np.maximum(0.0, forecast - limit), breached,
                ~breached & has_rate & (run_rate_s > 0) & (time_to_limit_s < time_left_s),
                time_to_limit_s, at_ms / 1000.0 + time_to_limit_s, spend / limit,
            )

    def results(self, figures: BudgetFigures, view: ShowbackView, out: list[ObjectiveResult | None]) -> None:
        """Each budget's result at its position in ``out``."""
        burn = figures.burn.astype(object)
        burn[~figures.burn_known] = None
        rows = zip(
            figures.period_start_ms.tolist(), figures.period_end_ms.tolist(), figures.period_s.tolist(),
            figures.column.tolist(), figures.spend.tolist(), figures.no_data.tolist(), burn.tolist(),
            figures.has_rate.tolist(), (figures.run_rate_s * 86400).tolist(), figures.forecast.tolist(),
            figures.overrun.tolist(), figures.breached.tolist(), figures.crosses.tolist(),
            figures.time_to_limit_s.tolist(), figures.crosses_at_s.tolist(), figures.used.tolist(), strict=True,
        )
        since: dict[tuple[int, str], str] = {}
        for guard, limit_text, row in zip(self.guards, self._limit_text, map(_Row._make, rows), strict=True):
            out[guard.position] = (
                _no_data(guard, row, since) if row.no_data else _result(guard, limit_text, row, view)
            )


def _details(guard: BudgetGuard, row: _Row) -> dict[str, Any]:
    """The ``details`` every budget result starts with. The spend follows under two keys with
    one value: ``spent`` (the README promises it) and ``spend`` (the key cost guardrails use)."""
    return {
        "currency": guard.currency, "limit": guard.limit,
        "period_start": row.period_start_ms / 1000.0, "period_end": row.period_end_ms / 1000.0,
    }


def _no_data(guard: BudgetGuard, row: _Row, since: dict[tuple[int, str], str]) -> ObjectiveResult:
    """No spend sample this period: the figures are unknown, never $0."""
    key = (row.period_start_ms, guard.timezone)
    if key not in since:
        start = datetime.fromtimestamp(row.period_start_ms / 1000, _zone(guard.timezone))
        since[key] = start.strftime("%Y-%m-%d %H:%M")
    return ObjectiveResult(
        guard.name, "budget", guard.dimension, guard.limit, guard.period, row.period_s, None, None,
        dict.fromkeys(BURN_WINDOWS), None, "no_data",
        f"no spend samples this {guard.period} (since {since[key]} {guard.timezone})",
        details={
            **_details(guard, row), "spent": None, "spend": None, "forecast": None, "overrun": None,
            "crosses_at": None, "run_rate_per_day": None, "showback": [],
        },
    )


def _result(guard: BudgetGuard, limit_text: str, row: _Row, view: ShowbackView) -> ObjectiveResult:
    """A budget with spend samples this period: status and reason from its figures."""
    money, currency, limit = format_money, guard.currency, guard.limit
    head = f"spent {money(row.spend, currency)} of {limit_text} ({row.used * 100:.0f}%)"
    tail = (
        f"at {money(row.run_rate_per_day, currency)}/day the {guard.period} ends at {money(row.forecast, currency)}"
        if row.has_rate else "no run rate yet"
    )
    status: Status
    time_to_breach: float | None = None
    crosses_at: float | None = None
    if row.breached:
        status, time_to_breach = "breached", 0.0
        reason = f"{head}: over by {money(row.spend - limit, currency)}; {tail}"
    elif row.crosses:
        status, time_to_breach, crosses_at = "warning", row.time_to_limit_s, row.crosses_at_s
        day = datetime.fromtimestamp(row.crosses_at_s, _zone(guard.timezone)).strftime("%Y-%m-%d")
        reason = f"{head}; {tail} — over by {money(row.overrun, currency)} on {day}"
    elif row.has_rate:
        status = "ok"
        reason = f"{head}; {tail}, {money(limit - row.forecast, currency)} under"
    else:
        status = "ok"
        reason = f"{head}; {tail}"
    run_rate = row.run_rate_per_day
    return ObjectiveResult(
        guard.name, "budget", guard.dimension, limit, guard.period, row.period_s, row.spend, 1.0 - row.used,
        dict(zip(BURN_WINDOWS, row.burn, strict=True)), time_to_breach, status, reason, events=row.spend,
        details={
            **_details(guard, row), "spent": row.spend, "spend": row.spend, "forecast": row.forecast,
            "overrun": row.overrun, "crosses_at": crosses_at,
            "run_rate_per_day": run_rate if row.has_rate and math.isfinite(run_rate) else None,
            "showback": view.showback(guard.template, row.column, "spent"),
        },
    )
