"""The freshness objectives' store: per objective, the cumulative count of good time slices in a
ring (``slo.timeslice.SliceRings``, shared with throughput and GPU-band objectives), grouped by
the series they read so a group's data is looked at once (fed by ``slo.freshness_groups``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from redline.slo.series.cumulative import NO_TS
from redline.slo.series.rows import csr_rows
from redline.slo.timeslice import SliceRings

__all__ = ["FreshnessStore"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class FreshnessStore:
    """Cumulative counts of good time slices, one ring per freshness objective.

    Slice ``k`` covers ``((k-1)·S, k·S]``; its data age is ``k·S − v`` where ``v`` (Unix
    seconds) is the value of the latest sample at or before the slice end (the minimum over
    series, i.e. the oldest). A slice counts once data exists at its end; it is good when the
    age is at most ``max_age``. Slices are final once a sample at or after their end has
    arrived; slices after the newest sample are counted at evaluation from the newest value.

    Objectives reading the same series with the same slice length form a *group*: they see
    the same data, so the group holds it (first and final slice, newest sample) once.
    """

    def __init__(
        self, groups: Sequence[int], max_age_s: Sequence[float], slice_s: Sequence[float],
        keep_slices: Sequence[int],
    ) -> None:
        self.n = len(groups)
        self.group = np.asarray(groups, dtype=np.int64)
        self.max_age_ms = np.asarray([round(a * 1000) for a in max_age_s], dtype=np.int64)
        self.slice_ms = np.asarray([round(s * 1000) for s in slice_s], dtype=np.int64)
        self._rings = SliceRings(np.asarray(keep_slices, dtype=np.int64) + 1)
        self.cap = self._rings.cap
        n_groups = int(self.group.max()) + 1 if self.n else 0
        self.members: list[I64] = [np.flatnonzero(self.group == g) for g in range(n_groups)]
        self.g_slice_ms = np.zeros(n_groups, dtype=np.int64)
        for g, objs in enumerate(self.members):
            if len({int(x) for x in self.slice_ms[objs]}) != 1:
                raise ValueError("objectives of one freshness group must share their slice length")
            self.g_slice_ms[g] = self.slice_ms[objs[0]]
        sizes = [len(m) for m in self.members]
        self._obj_ptr = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        self._obj_ids = np.concatenate([np.zeros(0, dtype=np.int64), *self.members]).astype(np.int64)
        self.g_k0 = np.full(n_groups, NO_TS, dtype=np.int64)  # first slice with data
        self.g_k_final = np.full(n_groups, NO_TS, dtype=np.int64)
        self.g_last_ts = np.full(n_groups, NO_TS, dtype=np.int64)
        self.g_last_value = np.full(n_groups, np.nan)

    def nbytes(self) -> int:
        """Bytes held by the slice counts."""
        return self._rings.nbytes()

    def _through(self, objs: I64, k: I64, k0: I64) -> I64:
        """Good slices from the first through slice ``k`` (``k0 - 1 <= k``, final, retained)."""
        return self._rings.through(objs, k, k0)

    def add_steps(self, g: int, ts_u: I64, values_u: F64) -> None:
        """Append group ``g``'s min-over-series value at new, ascending timestamps (after its newest)."""
        if len(ts_u) == 0:
            return
        s_ms = int(self.g_slice_ms[g])
        if self.g_k0[g] == NO_TS:
            self.g_k0[g] = -(-int(ts_u[0]) // s_ms)
            self.g_k_final[g] = self.g_k0[g] - 1
        k_final = int(self.g_k_final[g])
        k_to = int(ts_u[-1]) // s_ms
        if k_to > k_final:
            ks = np.arange(k_final + 1, k_to + 1, dtype=np.int64)
            ends = ks * s_ms
            # the latest sample at or before each slice end: count the samples by the first
            # slice end at or after them (every new sample is after slice k_final's end)
            n_new = len(ks)
            first_end = np.minimum(-(-ts_u // s_ms) - (k_final + 1), n_new)
            idx = np.cumsum(np.bincount(first_end, minlength=n_new + 1)[:n_new]) - 1
            v = np.where(idx >= 0, values_u[np.maximum(idx, 0)], self.g_last_value[g])
            age_ms = ends - v * 1000.0
            objs = self.members[g]
            k0 = int(self.g_k0[g])
            prev = self._through(objs, np.full(len(objs), k_final), np.full(len(objs), k0))
            for j, p in zip(objs.tolist(), prev.tolist(), strict=True):
                cum = p + np.cumsum(age_ms <= self.max_age_ms[j], dtype=np.int32)  # bool→int32: fast
                self._rings.write(j, k_final + 1, cum)
            self.g_k_final[g] = k_to
        self.g_last_ts[g] = int(ts_u[-1])
        self.g_last_value[g] = float(values_u[-1])

    def add_points(self, groups: I64, ts: I64, values: F64) -> I64:
        """``add_steps`` with one new sample for each of ``groups`` (distinct), all at once, where it
        finalises at most one slice (the usual tick); returns the groups left for ``add_steps``."""
        s_ms = self.g_slice_ms[groups]
        empty = self.g_k0[groups] == NO_TS
        first_k = -(-ts // s_ms)
        k0 = np.where(empty, first_k, self.g_k0[groups])
        k_final = np.where(empty, first_k - 1, self.g_k_final[groups])
        k_to = ts // s_ms
        ok = k_to - k_final <= 1
        left = groups[~ok]
        if not ok.all():
            groups, ts, values, s_ms = groups[ok], ts[ok], values[ok], s_ms[ok]
            k0, k_final, k_to, empty = k0[ok], k_final[ok], k_to[ok], empty[ok]
        self.g_k0[groups] = k0
        self.g_k_final[groups] = k_final
        new = np.flatnonzero(k_to > k_final)
        if len(new):
            g = groups[new]
            end = k_to[new] * s_ms[new]
            v = np.where(end >= ts[new], values[new], self.g_last_value[g])
            age_ms = end - v * 1000.0
            row, entry = csr_rows(self._obj_ptr, g)
            objs = self._obj_ids[entry]
            prev = self._through(objs, k_final[new][row], k0[new][row])
            good = age_ms[row] <= self.max_age_ms[objs]
            self._rings.put(objs, k_to[new][row], prev + good)
            self.g_k_final[g] = k_to[new]
        self.g_last_ts[groups] = ts
        self.g_last_value[groups] = values
        return left

    def counts(self, at_ms: int, windows_ms: I64) -> tuple[I64, I64]:
        """(good, counted) slices whose end lies in ``(at - W, at]``, per objective and window."""
        objs = np.broadcast_to(np.arange(self.n)[:, None], (self.n, len(windows_ms)))
        return self.counts_in(objs, np.broadcast_to(at_ms - windows_ms[None, :], objs.shape), at_ms)

    def counts_in(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]:
        """(good, counted) slices of objectives ``objs`` whose end lies in ``(lo_ms, hi_ms]`` (element-wise;
        ``hi_ms`` no later than the evaluation time: slices after the newest sample count from it)."""
        g = self.group[objs]
        s_ms = self.slice_ms[objs]
        k0, k_final = self.g_k0[g], self.g_k_final[g]
        has = k0 != NO_TS
        base = np.maximum(k0, k_final - (self.cap[objs] - 1) + 1)
        k_hi = hi_ms // s_ms
        k_lo = np.maximum(lo_ms // s_ms + 1, base)
        counted = np.where(has & (k_hi >= k_lo), k_hi - k_lo + 1, 0)
        fin_hi = np.minimum(k_hi, k_final)
        good = np.where(
            (counted > 0) & (fin_hi >= k_lo),
            self._through(objs, fin_hi, k0) - self._through(objs, k_lo - 1, k0),
            0,
        )
        last_value = self.g_last_value[g]
        tail = (counted > 0) & (k_hi > k_final) & ~np.isnan(last_value)
        if tail.any():
            first = np.maximum(k_final + 1, k_lo)
            with np.errstate(invalid="ignore"):
                newest_ms = np.where(tail, last_value, 0.0) * 1000.0
                last_good = np.floor((newest_ms + self.max_age_ms[objs]) / s_ms)
            extra = np.maximum(0.0, np.minimum(k_hi, last_good) - first + 1)
            good = good + np.where(tail, extra, 0.0).astype(np.int64)
        return good, counted
