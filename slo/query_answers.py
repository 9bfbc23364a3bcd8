"""Which recorded answers a query SLI objective is evaluated on at an instant, and the error
ratios they give.

The answers are one collection's: the newest within the staleness in which every side answered
(one failed request does not blank an objective while an older complete answer is recent
enough), else the newest (whose missing side is named). Per objective and window::

    error ratio = errors / total             (an ``errors`` query)
                = 1 − good / total           (a ``good`` query)
                = error_ratio                (an ``error_ratio`` query, as answered)

clipped to [0, 1] (two queries can disagree by a hair: good a little over total), unknown (NaN)
where a side is missing, a value is not finite or the total is 0 (no traffic: never 100%).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from redline.kernel.units import format_duration
from redline.slo.query_expressions import OBJECTIVE_WINDOW
from redline.slo.query_table import COLUMNS, WINDOWS, QueryObjective, column

__all__ = ["DEFAULT_STALENESS_S", "AnswerLookup", "missing_reason"]

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

DEFAULT_STALENESS_S = 300.0
"""Prometheus's lookback delta: the least an unset staleness allows (see ``QuerySLI.staleness``)."""


class AnswerLookup:
    """The answers and error ratios of the objectives (in order) at an instant."""

    def __init__(self, objectives: Sequence[QueryObjective]) -> None:
        self._objectives = objectives
        self._has_errors = np.array([o.sli.errors is not None for o in objectives], dtype=np.bool_)
        self._has_ratio = np.array([o.sli.error_ratio is not None for o in objectives], dtype=np.bool_)
        self._has_total = np.array([o.sli.total is not None for o in objectives], dtype=np.bool_)

    def answers(self, at_ms: int, periods: list[tuple[int, int] | None]) -> tuple[F64, Bools, list[int]]:
        """Each objective's answers at ``at_ms`` (a NaN row where none), whether it has any, and
        the staleness in force (ms). A calendar objective (``periods``) does not take its own
        window from a collection before its period began."""
        count = len(self._objectives)
        answers = np.full((count, COLUMNS), np.nan)
        found = np.zeros(count, dtype=np.bool_)
        chosen_ms = np.zeros(count, dtype=np.int64)
        """The time of each objective's chosen collection."""
        staleness: list[int] = []
        for index, objective in enumerate(self._objectives):
            table = objective.table
            newest = table.newest(at_ms)
            limit = objective.staleness_ms
            if limit is None:
                limit = max(round(DEFAULT_STALENESS_S * 1000), 2 * table.interval_ms())
            staleness.append(limit)
            if newest >= 0 and table.times[newest] >= at_ms - limit:
                answers[index], chosen_ms[index], found[index] = table.rows[newest], table.times[newest], True
        for index in np.flatnonzero(found & ~self._complete(answers)).tolist():  # rare: a side failed
            table = self._objectives[index].table
            oldest = table.first_at_or_after(at_ms - staleness[index])
            complete = np.flatnonzero(self._complete(table.rows[oldest:table.newest(at_ms) + 1], index))
            if len(complete):
                newest_complete = oldest + complete[-1]
                answers[index], chosen_ms[index] = table.rows[newest_complete], table.times[newest_complete]
        for index, period in enumerate(periods):
            if period is not None and found[index] and chosen_ms[index] < period[0]:
                # A collection from the previous period: its burn windows stand, its own window
                # (that period's) is not this period's.
                for side in self._objectives[index].sides:
                    answers[index, column(side, OBJECTIVE_WINDOW)] = np.nan
        return answers, found, staleness

    def _complete(self, rows: F64, index: int | None = None) -> Bools:
        """Whether every side answered in each row (one row per objective, or rows of objective
        ``index``): a side that failed or answered no series has no value for any window."""
        n_windows = len(WINDOWS)
        has_total = self._has_total if index is None else self._has_total[index]
        slot0_answered = ~np.isnan(rows[:, :n_windows]).all(axis=1)
        total_answered = ~np.isnan(rows[:, n_windows:]).all(axis=1)
        return slot0_answered & (total_answered | ~has_total)

    def error_ratios(self, answers: F64, found: Bools) -> F64:
        """The module docstring's error ratio per objective and window (``WINDOWS`` order)."""
        n_windows = len(WINDOWS)
        slot0, total = answers[:, :n_windows], answers[:, n_windows:]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = slot0 / total
            ratio = np.where(self._has_errors[:, None], share, 1.0 - share)
            ratio = np.where(total > 0, ratio, np.nan)
        ratio = np.where(self._has_ratio[:, None], slot0, ratio)
        ratio[~np.isfinite(ratio)] = np.nan
        ratio[~found] = np.nan
        return np.clip(ratio, 0.0, 1.0)


def missing_reason(objective: QueryObjective, row: npt.NDArray[np.float64], found: bool, staleness_ms: int) -> str:
    """Why an objective window has no ratio, when an answer is missing (empty otherwise)."""
    if not found:
        stale = format_duration(staleness_ms / 1000)
        return f"no answer from source {objective.sli.source!r} in the last {stale} (see its health)"
    absent = [s for s in objective.sides if np.isnan(row[column(s, OBJECTIVE_WINDOW)])]
    if not absent:
        return ""
    noun = "query has" if len(absent) == 1 else "queries have"
    return (
        f"the {' and '.join(absent)} {noun} no answer for the {objective.basis.window} window at the last "
        f"collection: it failed, answered no series or answered NaN (see source {objective.sli.source!r} health)"
    )
