"""Every objective's error ratios at once: index arrays built once from the objectives, then per
evaluation a few numpy gathers over the stores' per-window answers.

The table has one row per objective and one column per burn window then the objective's own
window. A counter objective's error ratio over a window is ``errors / total`` (or
``1 − good / total``) of its sides' increases (``slo.sides.SideCounters.increases``: the sum of
each series' Prometheus 2.42 ``increase``), clipped to [0, 1] and unknown without traffic; a time-slice objective's is
``1 − good slices / counted slices``. Calendar periods and maintenance adjust the objectives that
have them (``slo.special_windows``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from redline.kernel.units import parse_duration
from redline.slo.freshness_store import FreshnessStore
from redline.slo.spec import BURN_WINDOWS
from redline.slo.special_windows import CounterLookups, ObjectiveSlots, SpecialWindows
from redline.slo.timeslice import SliceStore

__all__ = ["BURN_MS", "RatioTable"]

BURN_MS: tuple[int, ...] = tuple(round(parse_duration(w) * 1000) for w in BURN_WINDOWS)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class _SideIncreases(Protocol):
    """The sides' increases and cumulative counts (``slo.sides.SideCounters``)."""

    def increases(self, at_ms: int, windows_ms: I64) -> tuple[F64, Bools]: ...

    def values_at(self, sides: I64, t: I64) -> F64: ...


class _SliceCounts(Protocol):
    """A store of good and counted slices (``FreshnessStore``, ``SliceStore``)."""

    def counts(self, at_ms: int, windows_ms: I64) -> tuple[I64, I64]: ...

    def counts_in(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]: ...


class RatioTable:
    """Lookup arrays over the objectives (in order) and the evaluation windows (``windows``: the
    burn windows first, then each distinct objective window)."""

    def __init__(self, objectives: Sequence[ObjectiveSlots], windows: list[int]) -> None:
        self._objectives = objectives
        self._windows_ms = np.asarray(windows, dtype=np.int64)
        col = {w: i for i, w in enumerate(windows)}
        counter = [i for i, o in enumerate(self._objectives) if o.freshness < 0 and o.slices < 0]
        fresh = [i for i, o in enumerate(self._objectives) if o.freshness >= 0]
        sliced = [i for i, o in enumerate(self._objectives) if o.slices >= 0]
        objs = self._objectives

        def cols(idx: list[int]) -> I64:
            rows = [[col[w] for w in (*BURN_MS, objs[i].window_ms)] for i in idx]
            return np.asarray(rows, dtype=np.int64).reshape(len(idx), len(BURN_MS) + 1)

        self._counter_rows = np.asarray(counter, dtype=np.int64)
        self._counter_columns = cols(counter)
        self._counter_total = np.asarray([objs[i].total for i in counter], dtype=np.int64)
        self._counter_has_errors = np.asarray([objs[i].errors >= 0 for i in counter], dtype=np.bool_)
        self._counter_other = np.asarray(
            [objs[i].errors if objs[i].errors >= 0 else objs[i].good for i in counter], dtype=np.int64
        )
        self._fresh_rows = np.asarray(fresh, dtype=np.int64)
        self._fresh_columns = cols(fresh)
        self._fresh_slots = np.asarray([objs[i].freshness for i in fresh], dtype=np.int64)
        self._sliced_rows = np.asarray(sliced, dtype=np.int64)
        self._sliced_columns = cols(sliced)
        self._sliced_slots = np.asarray([objs[i].slices for i in sliced], dtype=np.int64)
        self._budgets = np.asarray([o.budget for o in objs], dtype=np.float64)
        self._window_cols = cols(list(range(len(objs))))
        # objectives with a calendar period or maintenance: positions within their block
        self._counter_special = np.asarray([p for p, i in enumerate(counter) if objs[i].special], dtype=np.int64)
        self._fresh_special = np.asarray([p for p, i in enumerate(fresh) if objs[i].special], dtype=np.int64)
        self._sliced_special = np.asarray([p for p, i in enumerate(sliced) if objs[i].special], dtype=np.int64)
        self._counter_lookups = CounterLookups(
            self._counter_rows, self._counter_total, self._counter_other, self._counter_has_errors,
            self._counter_special,
        )
        self.special = SpecialWindows(objs, self._windows_ms, self._window_cols, len(BURN_MS) + 1)

    def compute(
        self, at_ms: int, counters: _SideIncreases, fresh: FreshnessStore, slices: SliceStore
    ) -> tuple[F64, Bools, F64]:
        """Error ratios (burn windows, then the objective window) of every objective, whether
        each is known, and the events (or slices) in the objective window (maintenance excluded)."""
        n_objectives, n_columns = len(self._objectives), len(BURN_MS) + 1
        ratios = np.zeros((n_objectives, n_columns), dtype=np.float64)
        known = np.zeros((n_objectives, n_columns), dtype=np.bool_)
        events = np.zeros(n_objectives, dtype=np.float64)
        if len(self._counter_rows):
            # error ratio = errors / total (errors = total − good for a good side), clipped to
            # [0, 1]; unknown without a total or without traffic (total ≤ 0). A missing errors
            # or good side is 0.
            increase, answered = counters.increases(at_ms, self._windows_ms)
            total_side, other_side = self._counter_total[:, None], self._counter_other[:, None]
            columns = self._counter_columns
            total = increase[total_side, columns]
            total_known = answered[total_side, columns]
            other = np.where(answered[other_side, columns], increase[other_side, columns], 0.0)
            errors = np.where(
                self._counter_has_errors[:, None], other, np.where(total_known, total - other, 0.0)
            )
            if len(self._counter_special):
                self.special.adjust_counters(
                    at_ms, counters.values_at, self._counter_lookups, errors, total, total_known
                )
            ratio_known = total_known & ~(total <= 0)
            ratio = np.divide(errors, total, out=np.zeros_like(errors), where=ratio_known)
            ratios[self._counter_rows] = np.minimum(np.maximum(ratio, 0.0), 1.0)
            known[self._counter_rows] = ratio_known
            events[self._counter_rows] = np.where(ratio_known[:, -1], total[:, -1], 0.0)
        self._slice_objectives(
            at_ms, fresh, self._fresh_rows, self._fresh_slots, self._fresh_columns, self._fresh_special,
            ratios, known, events,
        )
        self._slice_objectives(
            at_ms, slices, self._sliced_rows, self._sliced_slots, self._sliced_columns, self._sliced_special,
            ratios, known, events,
        )
        return ratios, known, events

    def _slice_objectives(
        self, at_ms: int, store: _SliceCounts, rows: I64, slots: I64, columns: I64, special: I64,
        ratios: F64, known: Bools, events: F64,
    ) -> None:
        """The rows of time-slice objectives (freshness, or throughput and GPU band): their slots
        in ``store``, their window columns and the positions of those with special windows.

        error ratio = 1 − good slices / counted slices, unknown when no slice was counted;
        events = the slices counted in the objective window."""
        if not len(rows):
            return
        good, counted = store.counts(at_ms, self._windows_ms)
        good_slices, counted_slices = good[slots[:, None], columns], counted[slots[:, None], columns]
        if len(special):
            self.special.adjust_slices(at_ms, rows, special, slots, store.counts_in, good_slices, counted_slices)
        any_counted = counted_slices > 0
        share = np.divide(
            good_slices, counted_slices, out=np.zeros(good_slices.shape, dtype=np.float64), where=any_counted
        )
        ratios[rows] = np.where(any_counted, 1.0 - share, 0.0)
        known[rows] = any_counted
        events[rows] = np.where(any_counted[:, -1], counted_slices[:, -1], 0).astype(np.float64)

    @property
    def budgets(self) -> F64:
        """Each objective's error budget, 1 − target."""
        return self._budgets

    @property
    def has_slices(self) -> bool:
        """Whether any objective is a throughput or GPU-band one."""
        return len(self._sliced_rows) > 0
