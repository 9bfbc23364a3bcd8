"""Calendar periods and maintenance windows: what objectives that have them need beyond the
shared per-window lookups of ``slo.ratio_table``.

A calendar objective's own window is its period so far: ``value(at) − value(period start)``. A
maintenance interval inside a window is taken out of it: the increase over the interval (clipped
to the window) is subtracted, and a window that is all maintenance counts nothing. For the
time-slice kinds the same is done on slice counts (a slice overlapping maintenance is dropped
whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from redline.slo.calendar import calendar_bounds, maintenance_intervals
from redline.slo.objective_result import ResultBasis

__all__ = ["CounterLookups", "CountsIn", "ObjectiveSlots", "SpecialWindows", "ValuesAt"]

_DAY_MS = 86_400_000

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


@dataclass
class ObjectiveSlots(ResultBasis):
    """An objective and where its data lives: its sides in ``CounterSides``, its index in the
    freshness or slice store, its window and budget."""

    window_ms: int = 0
    total: int = -1
    errors: int = -1
    good: int = -1
    freshness: int = -1  # index in the FreshnessStore
    slices: int = -1  # index in the SliceStore
    budget: float = 0.0
    slice_ms: int = 0  # time-slice kinds: a slice overlapping maintenance is dropped whole

    @property
    def special(self) -> bool:
        """Whether its windows need more than the shared lookups (a calendar period, maintenance)."""
        return self.spec.calendar is not None or bool(self.spec.maintenance)


class _CountsIn(Protocol):
    def __call__(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]: ...


class CountsIn(Protocol):
    """``(good, counted)`` slices of objectives ``objs`` whose end lies in ``(lo_ms, hi_ms]``."""

    def __call__(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]: ...


class ValuesAt(Protocol):
    """Each side's cumulative count at ``t`` (element-wise), as ``CounterSides.values_at``."""

    def __call__(self, sides: I64, t: I64) -> F64: ...


@dataclass(frozen=True)
class CounterLookups:
    """The counter objectives' sides, one entry per objective of the block: its total side, its
    other side (errors, else good) and which it is; ``special``: the block positions of those
    with a calendar period or maintenance."""

    block: I64
    total: I64
    other: I64
    has_errors: Bools
    special: I64


class SpecialWindows:
    """Calendar periods and maintenance intervals of the objectives, cached between evaluations."""

    def __init__(self, objectives: Sequence[ObjectiveSlots], windows_ms: I64, window_cols: I64, columns: int) -> None:
        self._objectives = objectives
        self._windows_ms = windows_ms
        self._window_cols = window_cols
        self._columns = columns
        self._periods: dict[int, tuple[int, int]] = {}
        self._maintenance: dict[int, tuple[int, int, I64]] = {}

    def period(self, i: int, at_ms: int) -> tuple[int, int]:
        """``(start_ms, end_ms)`` of calendar objective ``i``'s period containing ``at_ms``."""
        cached = self._periods.get(i)
        if cached is None or not cached[0] <= at_ms < cached[1]:
            cal = self._objectives[i].spec.calendar
            assert cal is not None
            cached = calendar_bounds(at_ms, cal)
            self._periods[i] = cached
        return cached

    def period_starts(self, block: I64, special: I64, at_ms: int) -> tuple[I64, I64]:
        """The block positions among ``special`` of calendar objectives, and their periods' starts
        at ``at_ms``."""
        calendar = [p for p in special.tolist() if self._objectives[int(block[p])].spec.calendar is not None]
        starts = [self.period(int(block[p]), at_ms)[0] for p in calendar]
        return np.asarray(calendar, dtype=np.int64), np.asarray(starts, dtype=np.int64)

    def _maintenance_in(self, i: int, lo_ms: int, at_ms: int) -> I64:
        """Objective ``i``'s maintenance intervals (``m × 2``, disjoint) covering at least
        ``[lo_ms, at_ms]``; a time-slice objective's are lengthened by a slice less 1 ms, so that
        ``(lo, hi]`` holds the ends of the slices they overlap. Recomputed about once a day."""
        cached = self._maintenance.get(i)
        if cached is None or cached[0] > lo_ms or cached[1] < at_ms:
            obj = self._objectives[i]
            lo, hi = lo_ms - _DAY_MS, at_ms + _DAY_MS
            extend = obj.slice_ms - 1 if obj.slice_ms else 0
            found = maintenance_intervals(obj.spec.maintenance, lo, hi, extend_ms=extend)
            cached = (lo, hi, np.asarray(found, dtype=np.int64).reshape(len(found), 2))
            self._maintenance[i] = cached
        return cached[2]

    def _special_queries(self, block: I64, positions: I64, at_ms: int) -> tuple[I64, I64, I64, I64, I64]:
        """The sub-ranges to subtract for maintenance: (block position, window column, lo, hi) of
        each maintenance interval clipped to each window, and per position whether a window is
        all maintenance (``len(positions) × columns``, as int)."""
        full = np.zeros((len(positions), self._columns), dtype=np.int64)
        which = [r for r, p in enumerate(positions.tolist()) if self._objectives[int(block[p])].spec.maintenance]
        if not which:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, full
        pos = positions[which]
        objs = block[pos]
        starts = at_ms - self._windows_ms[self._window_cols[objs]]
        for k, i in enumerate(objs.tolist()):
            if self._objectives[i].spec.calendar is not None:
                starts[k, -1] = self.period(i, at_ms)[0]
        earliest = starts.min(axis=1).tolist()
        parts = [self._maintenance_in(i, int(lo), at_ms) for i, lo in zip(objs.tolist(), earliest, strict=True)]
        owner = np.repeat(np.arange(len(objs)), [len(x) for x in parts])
        intervals = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
        # Each interval (start, end) clipped to each window (window start, at]: (lo, hi].
        lo = np.maximum(intervals[:, :1], starts[owner])
        hi = np.broadcast_to(np.minimum(intervals[:, 1:], at_ms), lo.shape)
        inside = hi > lo
        interval, cols = np.nonzero(inside)
        covered = np.zeros(starts.shape, dtype=np.int64)
        np.add.at(covered, owner, np.where(inside, hi - lo, 0))
        full[which] = covered >= at_ms - starts
        return pos[owner[interval]], cols, lo[inside], hi[inside], full

    def adjust_counters(
        self, at_ms: int, values_at: ValuesAt, lookups: CounterLookups, errors: F64, total: F64, total_known: Bools
    ) -> None:
        """Calendar periods and maintenance for the counter objectives that have them, in place
        (``errors``/``total``: per block position and window column).

        A calendar window: ``total = value(total, at) − value(total, period_start)``, likewise the
        other side. Each maintenance interval ``(lo, hi]`` clipped to a window subtracts
        ``value(side, hi) − value(side, lo)``; then ``total ≥ 0`` (0 when the window is all
        maintenance) and ``0 ≤ errors ≤ total``.
        """
        special = lookups.special
        calendar, period_start_ms = self.period_starts(lookups.block, special, at_ms)
        if len(calendar):
            sides = np.concatenate([lookups.total[calendar], lookups.other[calendar]])
            at_each = np.full(len(sides), at_ms, dtype=np.int64)
            increase = values_at(sides, at_each) - values_at(sides, np.concatenate([period_start_ms, period_start_ms]))
            total_increase, other_increase = increase[: len(calendar)], increase[len(calendar) :]
            total[calendar, -1] = total_increase
            errors[calendar, -1] = np.where(
                lookups.has_errors[calendar], other_increase, total_increase - other_increase
            )
            total_known[calendar, -1] = True
        rows, cols, lo_ms, hi_ms, full = self._special_queries(lookups.block, special, at_ms)
        if len(rows):
            total_side, other_side = lookups.total[rows], lookups.other[rows]
            total_in_maintenance = values_at(total_side, hi_ms) - values_at(total_side, lo_ms)
            other_in_maintenance = values_at(other_side, hi_ms) - values_at(other_side, lo_ms)
            errors_in_maintenance = np.where(
                lookups.has_errors[rows], other_in_maintenance, total_in_maintenance - other_in_maintenance
            )
            np.subtract.at(total, (rows, cols), total_in_maintenance)
            np.subtract.at(errors, (rows, cols), errors_in_maintenance)
        clipped_total = np.maximum(total[special], 0.0)
        clipped_total[full.astype(np.bool_)] = 0.0
        total[special] = clipped_total
        errors[special] = np.minimum(np.maximum(errors[special], 0.0), clipped_total)

    def adjust_slices(
        self, at_ms: int, block: I64, special: I64, store_of: I64, counts_in: CountsIn, good: I64, counted: I64
    ) -> None:
        """Calendar periods and maintenance for the time-slice objectives (block positions
        ``special``) that have them, in place: a calendar window counts the slices since the period
        start; each maintenance interval takes out the slices ending in it."""
        calendar, period_start_ms = self.period_starts(block, special, at_ms)
        if len(calendar):
            good[calendar, -1], counted[calendar, -1] = counts_in(store_of[calendar], period_start_ms, at_ms)
        rows, cols, lo_ms, hi_ms, _ = self._special_queries(block, special, at_ms)
        if len(rows):
            good_in_maintenance, counted_in_maintenance = counts_in(store_of[rows], lo_ms, hi_ms)
            np.subtract.at(good, (rows, cols), good_in_maintenance)
            np.subtract.at(counted, (rows, cols), counted_in_maintenance)

