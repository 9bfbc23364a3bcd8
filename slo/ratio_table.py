"""Every objective's error ratios at once: index arrays built once from the objectives, then per
evaluation a few numpy gathers over the stores' per-window answers.

The table has one row per objective and one column per burn window then the objective's own
window. A counter objective's error ratio over a window is ``errors / total`` (or
``1 − good / total``) of its sides' increases (``CounterSides.increases``: Prometheus 2.42 for
windows up to 6 h), clipped to [0, 1] and unknown without traffic; a time-slice objective's is
``1 − good slices / counted slices``. Calendar periods and maintenance adjust the objectives that
have them (``slo.special_windows``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from redline.kernel.units import parse_duration
from redline.slo.freshness_store import FreshnessStore
from redline.slo.series.cumulative import CounterSides
from redline.slo.spec import BURN_WINDOWS
from redline.slo.special_windows import CounterLookups, ObjectiveSlots, SpecialWindows
from redline.slo.timeslice import SliceStore

__all__ = ["BURN_MS", "RatioTable"]

BURN_MS: tuple[int, ...] = tuple(round(parse_duration(w) * 1000) for w in BURN_WINDOWS)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


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

        self._c_idx = np.asarray(counter, dtype=np.int64)
        self._c_cols = cols(counter)
        self._c_total = np.asarray([objs[i].total for i in counter], dtype=np.int64)
        self._c_has_errors = np.asarray([objs[i].errors >= 0 for i in counter], dtype=np.bool_)
        self._c_other = np.asarray(
            [objs[i].errors if objs[i].errors >= 0 else objs[i].good for i in counter], dtype=np.int64
        )
        self._f_idx = np.asarray(fresh, dtype=np.int64)
        self._f_cols = cols(fresh)
        self._f_store = np.asarray([objs[i].freshness for i in fresh], dtype=np.int64)
        self._s_idx = np.asarray(sliced, dtype=np.int64)
        self._s_cols = cols(sliced)
        self._s_store = np.asarray([objs[i].slices for i in sliced], dtype=np.int64)
        self._budgets = np.asarray([o.budget for o in objs], dtype=np.float64)
        self._window_cols = cols(list(range(len(objs))))
        # objectives with a calendar period or maintenance: positions within their block
        self._c_sp = np.asarray([p for p, i in enumerate(counter) if objs[i].special], dtype=np.int64)
        self._f_sp = np.asarray([p for p, i in enumerate(fresh) if objs[i].special], dtype=np.int64)
        self._s_sp = np.asarray([p for p, i in enumerate(sliced) if objs[i].special], dtype=np.int64)
        self._counter_lookups = CounterLookups(
            self._c_idx, self._c_total, self._c_other, self._c_has_errors, self._c_sp
        )
        self.special = SpecialWindows(objs, self._windows_ms, self._window_cols, len(BURN_MS) + 1)

    def compute(
        self, at_ms: int, counters: CounterSides, fresh: FreshnessStore, slices: SliceStore
    ) -> tuple[F64, Bools, F64]:
        """Error ratios (burn windows, then the objective window) of every objective, whether
        each is known, and the events (or slices) in the objective window (maintenance excluded)."""
        n = len(self._objectives)
        nw = len(BURN_MS) + 1
        ratios = np.zeros((n, nw), dtype=np.float64)
        known = np.zeros((n, nw), dtype=np.bool_)
        events = np.zeros(n, dtype=np.float64)
        if len(self._c_idx):
            inc, ok = counters.increases(at_ms, self._windows_ms)
            cols = self._c_cols
            tot = inc[self._c_total[:, None], cols]
            tot_ok = ok[self._c_total[:, None], cols]
            other = inc[self._c_other[:, None], cols]
            other = np.where(ok[self._c_other[:, None], cols], other, 0.0)
            err = np.where(self._c_has_errors[:, None], other, np.where(tot_ok, tot - other, 0.0))
            if len(self._c_sp):
                self.special.adjust_counters(at_ms, counters.values_at, self._counter_lookups, err, tot, tot_ok)
            r_ok = tot_ok & ~(tot <= 0)
            r = np.divide(err, tot, out=np.zeros_like(err), where=r_ok)
            ratios[self._c_idx] = np.minimum(np.maximum(r, 0.0), 1.0)
            known[self._c_idx] = r_ok
            events[self._c_idx] = np.where(r_ok[:, -1], tot[:, -1], 0.0)
        if len(self._f_idx):
            good, counted = fresh.counts(at_ms, self._windows_ms)
            g = good[self._f_store[:, None], self._f_cols]
            c = counted[self._f_store[:, None], self._f_cols]
            if len(self._f_sp):
                self.special.adjust_slices(at_ms, self._f_idx, self._f_sp, self._f_store, fresh.counts_in, g, c)
            self._slice_ratios(self._f_idx, g, c, ratios, known, events)
        if len(self._s_idx):
            good, counted = slices.counts(at_ms, self._windows_ms)
            g = good[self._s_store[:, None], self._s_cols]
            c = counted[self._s_store[:, None], self._s_cols]
            if len(self._s_sp):
                self.special.adjust_slices(at_ms, self._s_idx, self._s_sp, self._s_store, slices.counts_in, g, c)
            self._slice_ratios(self._s_idx, g, c, ratios, known, events)
        return ratios, known, events

    @staticmethod
    def _slice_ratios(idx: I64, g: I64, c: I64, ratios: F64, known: Bools, events: F64) -> None:
        c_ok = c > 0
        share = np.divide(g, c, out=np.zeros(g.shape, dtype=np.float64), where=c_ok)
        ratios[idx] = np.where(c_ok, 1.0 - share, 0.0)
        known[idx] = c_ok
        events[idx] = np.where(c_ok[:, -1], c[:, -1], 0).astype(np.float64)

    @property
    def budgets(self) -> F64:
        """Each objective's error budget, 1 − target."""
        return self._budgets

    @property
    def has_slices(self) -> bool:
        """Whether any objective is a throughput or GPU-band one."""
        return len(self._s_idx) > 0
