"""A query SLI objective's recorded answers: a table with a row per collection and a column per
side and window, and how a batch of recorded samples lands in it.

Layout: every query SLI has one of ``errors``, ``good`` or ``error_ratio`` (slot 0) and maybe a
``total`` (slot 1); a slot has one column per window (``WINDOWS``: the burn windows, then the
objective's own), so ``column(side, window) = slot × len(WINDOWS) + window index``. A cell is NaN
where that side did not answer for that window at that collection.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.slo.objective_result import ResultBasis
from redline.slo.query_expressions import OBJECTIVE_WINDOW
from redline.slo.spec import BURN_WINDOWS, QuerySLI

__all__ = ["COLUMNS", "WINDOWS", "AnswerTable", "QueryObjective", "add_collection", "add_runs", "column"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

WINDOWS: tuple[str, ...] = (*BURN_WINDOWS, OBJECTIVE_WINDOW)
_SLOT = {"errors": 0, "good": 0, "error_ratio": 0, "total": 1}
COLUMNS = 2 * len(WINDOWS)
_GAPS_KEPT = 9
"""How many of the last gaps between collections the usual interval is the median of."""


def column(side: str, window: str) -> int:
    """The table column of ``side`` over ``window`` (module docstring)."""
    return _SLOT[side] * len(WINDOWS) + WINDOWS.index(window)


class AnswerTable:
    """One objective's answers: rows ``start`` to ``end`` of ``times`` (sorted) and ``rows``."""

    def __init__(self) -> None:
        self.times = np.zeros(0, dtype=np.int64)
        self.rows = np.zeros((0, COLUMNS), dtype=np.float64)
        self.end = 0
        self.start = 0
        """Rows before ``start`` are trimmed (``trim``): too old for any later evaluation."""
        self.gaps: deque[int] = deque(maxlen=_GAPS_KEPT)
        """The last few times between consecutive collections (ms), kept through trims."""

    def held(self) -> int:
        """Collections held (trimmed ones not counted)."""
        return self.end - self.start

    def interval_ms(self) -> int:
        """The typical time between collections: the median of the last few gaps (an outage is
        one gap among them, so it does not stretch the staleness), 0 before two collections."""
        return int(np.median(self.gaps)) if self.gaps else 0

    def add(self, times: I64, rows: F64) -> None:
        """Add rows at ``times`` (sorted, distinct); at a time already held, a newer answer of a
        side and window replaces the older one."""
        end, added = self.end, len(times)
        if end == 0 or times[0] > self.times[end - 1]:  # the usual case: newer collections
            if end + added > len(self.times):
                capacity = max(end + added + (end + added) // 4, 2 * len(self.times), 64)  # room for the next
                grown_times = np.empty(capacity, dtype=np.int64)
                grown_times[:end] = self.times[:end]
                grown_rows = np.full((capacity, COLUMNS), np.nan)
                grown_rows[:end] = self.rows[:end]
                self.times, self.rows = grown_times, grown_rows
            self.times[end:end + added] = times
            self.rows[end:end + added] = rows
            self.gaps.extend(np.diff(self.times[max(end - 1, 0):end + added]).tolist()[-_GAPS_KEPT:])
            self.end = end + added
            return
        start = self.start
        merged_times, where = np.unique(np.concatenate([self.times[start:end], times]), return_inverse=True)
        merged = np.full((len(merged_times), COLUMNS), np.nan)
        for part, rows_at in ((self.rows[start:end], where[: end - start]), (rows, where[end - start:])):  # older first
            row, col = np.nonzero(~np.isnan(part))
            merged[rows_at[row], col] = part[row, col]
        self.times, self.rows, self.end, self.start = merged_times, merged, len(merged_times), 0
        self.gaps = deque(np.diff(merged_times[-_GAPS_KEPT - 1:]).tolist(), maxlen=_GAPS_KEPT)

    def newest(self, at_ms: int) -> int:
        """The index of the newest row at or before ``at_ms``, or -1."""
        index = self.first_after(at_ms) - 1
        return index if index >= self.start else -1

    def first_at_or_after(self, at_ms: int) -> int:
        """The index of the oldest row at or after ``at_ms`` (``end`` when none)."""
        return self.start + int(np.searchsorted(self.times[self.start:self.end], at_ms, side="left"))

    def first_after(self, at_ms: int) -> int:
        """The index of the oldest row after ``at_ms`` (``end`` when none)."""
        return self.start + int(np.searchsorted(self.times[self.start:self.end], at_ms, side="right"))

    def trim(self, before_ms: int) -> None:
        """Forget rows older than ``before_ms`` but the newest of them (an interval to measure)."""
        cut = self.first_at_or_after(before_ms) - 1
        if cut <= self.start:
            return
        self.start = cut
        if self.start >= 1024 and self.start > self.end // 2:  # give the memory back now and then
            self.times, self.rows = self.times[self.start:self.end].copy(), self.rows[self.start:self.end].copy()
            self.end -= self.start
            self.start = 0

    def nbytes(self) -> int:
        return self.times.nbytes + self.rows.nbytes


@dataclass
class QueryObjective:
    """A query SLI objective and its answers."""

    basis: ResultBasis
    sli: QuerySLI
    staleness_ms: int | None
    """As configured; None: twice the usual time between collections, at least 5 minutes."""
    table: AnswerTable = field(default_factory=AnswerTable)
    several: dict[int, str] = field(default_factory=dict)
    """Answer time → what came back when a side answered with more than one series per window."""

    @property
    def sides(self) -> list[str]:
        return list(self.sli.queries())

    def several_why(self, col: int, first: str, second: str) -> str:
        """The problem of two series (``first``, ``second``) answering for one side and window."""
        side = next(s for s in self.sides if column(s, WINDOWS[col % len(WINDOWS)]) == col)
        return (
            f"the {side} query answers with more than one series for one window ({first}; {second}): "
            "a query SLI needs one series per window — aggregate with sum()"
        )


def add_collection(objectives: list[QueryObjective], code: I64, ts: I64, values: F64, labels: pl.Series) -> None:
    """A small batch (a collection) as whole arrays: each sample's ``code`` is ``objective index ×
    COLUMNS + column`` (-1: not read); rows sorted by objective and time."""
    keep = np.flatnonzero(code >= 0)
    if not len(keep):
        return
    order = keep[np.lexsort((code[keep], ts[keep], code[keep] // COLUMNS))]
    code, ts = code[order], ts[order]
    objective, col = code // COLUMNS, code % COLUMNS
    starts_row = np.ones(len(ts), dtype=np.bool_)
    starts_row[1:] = (objective[1:] != objective[:-1]) | (ts[1:] != ts[:-1])
    table = np.full((int(starts_row.sum()), COLUMNS), np.nan)
    table[np.cumsum(starts_row) - 1, col] = values[order]
    for i in np.flatnonzero(~starts_row[1:] & (col[1:] == col[:-1])).tolist():  # one side and window twice
        first, second = str(labels[int(order[i])]), str(labels[int(order[i + 1])])
        if first != second:
            obj = objectives[int(objective[i])]
            obj.several[int(ts[i])] = obj.several_why(int(col[i]), first, second)
    row_objective, row_ts = objective[starts_row], ts[starts_row]
    bounds = np.flatnonzero(np.diff(row_objective)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(row_objective)], strict=True):
        objectives[int(row_objective[a])].table.add(row_ts[a:b], table[a:b])


def add_runs(
    objectives: list[QueryObjective], run_code: I64, starts: I64, lengths: I64, ts: I64, values: F64,
    labels: pl.Series,
) -> None:
    """A large batch (a cold start) run by run: run ``r`` is ``lengths[r]`` rows from ``starts[r]``
    of one recorded series, whose code is ``run_code[r]`` (as in ``add_collection``)."""
    read = np.flatnonzero(run_code >= 0)
    read = read[np.argsort(run_code[read] // COLUMNS, kind="stable")]
    run_objective = run_code[read] // COLUMNS
    bounds = np.flatnonzero(np.diff(run_objective)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(read)], strict=True):
        runs = [(int(starts[r]), int(lengths[r]), int(run_code[r]) % COLUMNS) for r in read[a:b]]
        obj = objectives[int(run_objective[a])]
        obj.table.add(*_rows_of(runs, ts, values))
        cols = [col for _, _, col in runs]
        if len(set(cols)) < len(cols):
            _flag_several(obj, runs, labels, ts)


def _rows_of(runs: list[tuple[int, int, int]], ts: I64, values: F64) -> tuple[I64, F64]:
    """One objective's rows from its runs ``(start, length, column)`` of ``ts``/``values``: the
    distinct times, sorted, and a row per time (NaN where a column has no answer then; of two
    answers at one time, the later run's)."""
    first_start, first_length, _ = runs[0]
    first = ts[first_start:first_start + first_length]
    columns = [col for _, _, col in runs]
    shared = (
        len(set(columns)) == len(columns)
        and bool(np.all(first[1:] > first[:-1]))
        and all(n == first_length and np.array_equal(ts[s:s + n], first) for s, n, _ in runs[1:])
    )
    if shared:  # the usual case: every side and window answered in the same collections
        table = np.full((first_length, COLUMNS), np.nan)
        for s, n, col in runs:
            table[:, col] = values[s:s + n]
        return first.copy(), table
    times, where = np.unique(np.concatenate([ts[s:s + n] for s, n, _ in runs]), return_inverse=True)
    table = np.full((len(times), COLUMNS), np.nan)
    cols = np.concatenate([np.full(n, col, dtype=np.int64) for _, n, col in runs])
    table[where, cols] = np.concatenate([values[s:s + n] for s, n, _ in runs])
    return times, table


def _flag_several(obj: QueryObjective, runs: list[tuple[int, int, int]], labels: pl.Series, ts: I64) -> None:
    """Times at which two series answered for one side and window of ``obj``."""
    by_column: dict[int, dict[str, list[I64]]] = {}
    for start, length, col in runs:
        by_column.setdefault(col, {}).setdefault(str(labels[start]), []).append(ts[start:start + length])
    for col, series in by_column.items():
        if len(series) < 2:
            continue
        names = sorted(series)
        answers_at: dict[int, int] = {}
        for parts in series.values():
            for t in np.unique(np.concatenate(parts)).tolist():
                answers_at[t] = answers_at.get(t, 0) + 1
        why = obj.several_why(col, names[0], names[1])
        obj.several.update({t: why for t, n in answers_at.items() if n > 1})
