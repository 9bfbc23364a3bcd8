"""Cost-per-1k guardrails: the money spent per 1,000 inferences over a rolling window, against a maximum.

``CostGuardrails.figures`` computes every cost guardrail at once, as arrays. With ``spend`` and
``inferences`` the summed increases of the spend series and the inference counters
(``slo.guardrail_sums``)::

    cost_per_1k   = spend over the window / (inferences over the window / 1000)   (the SLI)
    budget left   = 1 − cost_per_1k / max
    burn[w]       = (spend over w / (inferences over w / 1000)) / max
                    (None when w holds no inference or no spend sample)

Status: ``no_data`` when the window holds no inference or no spend sample, ``breached`` when
cost_per_1k > max, ``warning`` when the last day's burn (without a day of data, the last 6
hours') is over 1, else ``ok``. A ratio has no run-rate crossing: time to breach is 0 when
breached, else None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from redline.kernel.money import format_money
from redline.kernel.units import format_duration
from redline.slo.guardrail_showback import ShowbackView
from redline.slo.guardrail_sums import BURN_MS_ARRAY, RECENT_WINDOWS, Guard, TemplateSums
from redline.slo.results import ObjectiveResult, Status
from redline.slo.spec import BURN_WINDOWS

__all__ = ["CostGuard", "CostGuardrails"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CostGuard(Guard):
    """One cost-per-1k guardrail's constants."""

    window_s: float
    spend_template: int
    inference_template: int
    max: float


@dataclass(frozen=True)
class CostFigures:
    """Every cost guardrail's figures at one instant (module docstring), one entry per guardrail."""

    window_start_ms: I64
    spend: F64
    inferences: F64
    spend_in_window: Bools
    """Whether the window holds a spend sample."""
    cost_per_1k: F64
    burn: F64
    """Guardrails × burn windows; read only where ``burn_known``."""
    burn_known: Bools


class _Row(NamedTuple):
    """One cost guardrail's figures as Python values."""

    window_start_s: float
    column: int
    spend: float
    inferences: float
    spend_in_window: bool
    cost_per_1k: float
    burn: list[float | None]


class CostGuardrails:
    """The cost-per-1k guardrails of a configuration: their constants as arrays (one row each)."""

    def __init__(self, guards: Sequence[CostGuard]) -> None:
        self.guards = list(guards)
        self.spend_template = np.asarray([g.spend_template for g in guards], dtype=np.int64)
        self.inference_template = np.asarray([g.inference_template for g in guards], dtype=np.int64)
        self.window_ms = np.asarray([round(g.window_s * 1000) for g in guards], dtype=np.int64)
        self._max = np.asarray([g.max for g in guards], dtype=np.float64)
        self._max_text = [format_money(g.max, g.currency) for g in guards]
        self._window_text = [format_duration(g.window_s) for g in guards]

    def figures(self, at_ms: int, window_columns: I64, sums: TemplateSums) -> CostFigures:
        """The module docstring's figures; ``window_columns`` per guardrail."""
        rows = np.arange(len(self.guards))
        spend, inferences = sums.increase[self.spend_template], sums.increase[self.inference_template]
        newest_spend_ms = sums.newest_ms[self.spend_template]
        window_start_ms = at_ms - self.window_ms
        n_burn = len(BURN_MS_ARRAY)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            cost_per_1k = spend[rows, window_columns] / (inferences[rows, window_columns] / 1000.0)
            burn = (spend[:, :n_burn] / (inferences[:, :n_burn] / 1000.0)) / self._max[:, None]
        burn_known = (inferences[:, :n_burn] > 0) & (newest_spend_ms[:, None] > at_ms - BURN_MS_ARRAY)
        return CostFigures(
            window_start_ms, spend[rows, window_columns], inferences[rows, window_columns],
            newest_spend_ms > window_start_ms, cost_per_1k, burn, burn_known,
        )

    def results(
        self, figures: CostFigures, window_columns: I64, view: ShowbackView, out: list[ObjectiveResult | None]
    ) -> None:
        """Each cost guardrail's result at its position in ``out``."""
        burn = figures.burn.astype(object)
        burn[~figures.burn_known] = None
        rows = zip(
            (figures.window_start_ms / 1000.0).tolist(), window_columns.tolist(), figures.spend.tolist(),
            figures.inferences.tolist(), figures.spend_in_window.tolist(), figures.cost_per_1k.tolist(),
            burn.tolist(), strict=True,
        )
        for guard, max_text, window, row in zip(
            self.guards, self._max_text, self._window_text, map(_Row._make, rows), strict=True
        ):
            out[guard.position] = (
                _no_data(guard, window, row) if row.inferences <= 0 or not row.spend_in_window
                else _result(guard, max_text, window, row, view)
            )


def _no_data(guard: CostGuard, window: str, row: _Row) -> ObjectiveResult:
    """No inference or no spend sample in the window: the cost is unknown."""
    missing = "inferences" if row.inferences <= 0 else "spend samples"
    return ObjectiveResult(
        guard.name, "cost_per_1k", guard.dimension, guard.max, window, guard.window_s, None, None,
        dict.fromkeys(BURN_WINDOWS), None, "no_data", f"no {missing} in the last {window}",
        details={
            "currency": guard.currency, "max": guard.max, "window_start": row.window_start_s,
            "spend": row.spend if row.spend_in_window else None, "inferences": row.inferences,
            "cost_per_1k": None, "showback": [],
        },
    )


def _result(guard: CostGuard, max_text: str, window: str, row: _Row, view: ShowbackView) -> ObjectiveResult:
    """A cost guardrail with inferences and spend in its window: status and reason from its figures."""
    money, currency, cost, limit = format_money, guard.currency, row.cost_per_1k, guard.max
    head = f"{money(cost, currency)} per 1k inferences over {window} (max {max_text})"
    recent = _recent_burn(row.burn)
    status: Status
    if cost > limit:
        status = "breached"
        reason = f"{head}: {(cost / limit - 1) * 100:.0f}% over"
    elif recent is not None and recent[1] > 1.0:
        status = "warning"
        reason = f"{head}, but the last {recent[0]} ran at {money(recent[1] * limit, currency)} per 1k"
    else:
        status = "ok"
        reason = head if recent is None else f"{head}; last {recent[0]} {money(recent[1] * limit, currency)}"
    return ObjectiveResult(
        guard.name, "cost_per_1k", guard.dimension, limit, window, guard.window_s, cost, 1.0 - cost / limit,
        dict(zip(BURN_WINDOWS, row.burn, strict=True)), 0.0 if status == "breached" else None, status, reason,
        events=row.inferences,
        details={
            "currency": currency, "max": limit, "window_start": row.window_start_s, "spend": row.spend,
            "inferences": row.inferences, "cost_per_1k": cost,
            "showback": view.cost_showback(guard.spend_template, guard.inference_template, row.column),
        },
    )


def _recent_burn(burn: list[float | None]) -> tuple[str, float] | None:
    """The burn over the last day, else over the last 6 hours (a guardrail without a day of data),
    with that window's name; None when neither is known."""
    for window, column in RECENT_WINDOWS:
        rate = burn[column]
        if rate is not None:
            return window, rate
    return None
