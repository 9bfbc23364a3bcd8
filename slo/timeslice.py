"""Time-slice SLIs: rings of cumulative slice counts, and the slice math of throughput and GPU bands.

Slice ``k`` of length ``S`` covers ``((k-1)·S, k·S]``. A time-slice objective's SLI over a window is
good slices / counted slices among the slices whose end lies in ``(at - W, at]``, so each
objective keeps the cumulative count of good slices (and each group of objectives reading the
same data the cumulative count of counted slices) in a ring: a window is two lookups.

``SliceRings`` is that ring storage (shared with freshness, ``slo.freshness_store.FreshnessStore``).
``SliceStore`` holds throughput and GPU-band objectives: a group's newest slice stays *open*
(provisional, counted at evaluation) until a sample after its end arrives; earlier slices are
final. ``throughput_slices`` and ``band_slices`` turn a group's rows into per-slice summaries
``(counted, a, b)``: a slice is good for an objective with bounds ``(lo, hi)`` when it is counted
and ``a >= lo`` and ``b <= hi`` (throughput: ``a = b =`` rate; GPU band: the lowest and highest
group aggregate).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from redline.slo.series.rows import csr_rows

__all__ = ["NO_SLICE", "SliceRings", "SliceStore", "band_extremes", "band_slices", "slice_index", "throughput_slices"]

NO_SLICE = -(2**63)
"""Slice-index sentinel: no data yet."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class SliceRings:
    """Cumulative slice counts, one ring per row: ring ``r`` keeps its last ``caps[r]`` slices."""

    def __init__(self, caps: Sequence[int] | I64) -> None:
        self.cap = np.asarray(caps, dtype=np.int64)
        self.off = np.concatenate([[0], np.cumsum(self.cap)[:-1]]).astype(np.int64)
        self.pool = np.zeros(int(self.cap.sum()), dtype=np.int32)  # zero pages until used

    def nbytes(self) -> int:
        """Bytes held by the counts."""
        return int(self.pool.nbytes)

    def through(self, rings: I64, k: I64, k0: I64) -> I64:
        """Counts from the first slice ``k0`` through slice ``k`` (``k >= k0 - 1``, retained)."""
        out: I64 = np.where(k >= k0, self.pool[self.off[rings] + k % self.cap[rings]], 0)
        return out

    def write(self, r: int, k_from: int, cum: npt.NDArray[np.int32] | I64) -> None:
        """Store the counts through slices ``k_from, k_from + 1, …`` of ring ``r`` (the last ``cap`` kept)."""
        cap, off = int(self.cap[r]), int(self.off[r])
        tail = min(len(cum), cap)
        if tail == 0:
            return
        slot = (k_from + len(cum) - tail) % cap
        head = min(tail, cap - slot)
        self.pool[off + slot : off + slot + head] = cum[len(cum) - tail : len(cum) - tail + head]
        if head < tail:
            self.pool[off : off + tail - head] = cum[len(cum) - tail + head :]

    def put(self, rings: I64, k: I64, values: I64) -> None:
        """Store one count per (ring, slice); the positions must be distinct (at most ``cap`` slices a ring)."""
        self.pool[self.off[rings] + k % self.cap[rings]] = values


class SliceStore:
    """Good slices per objective and counted slices per group, for throughput and GPU-band objectives.

    ``groups[j]`` is objective ``j``'s group; ``lo[j]``, ``hi[j]`` its bounds on the slice summary;
    ``keep_slices[j]`` how many final slices it must keep (window plus margin). Each group has
    one slice length. Not thread-safe.
    """

    def __init__(
        self, groups: Sequence[int], slice_ms: Sequence[int], lo: Sequence[float], hi: Sequence[float],
        keep_slices: Sequence[int],
    ) -> None:
        self.n = len(groups)
        self.group = np.asarray(groups, dtype=np.int64)
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        self.g_slice_ms = np.asarray(slice_ms, dtype=np.int64)
        n_groups = len(self.g_slice_ms)
        obj_cap = np.asarray(keep_slices, dtype=np.int64) + 1
        self.members: list[I64] = [np.flatnonzero(self.group == g) for g in range(n_groups)]
        g_cap = [int(obj_cap[m].max()) if len(m) else 1 for m in self.members]
        self.cap = obj_cap
        self._good = SliceRings(obj_cap)
        self._counted = SliceRings(g_cap)
        self.g_cap = self._counted.cap
        self.g_k0 = np.full(n_groups, NO_SLICE, dtype=np.int64)
        self.g_k_final = np.full(n_groups, NO_SLICE, dtype=np.int64)
        self.g_open = np.zeros(n_groups, dtype=np.bool_)
        self.g_open_counted = np.zeros(n_groups, dtype=np.int64)
        self.open_good = np.zeros(self.n, dtype=np.int64)
        sizes = [len(m) for m in self.members]
        self._obj_ptr = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        self._obj_ids = np.concatenate([np.zeros(0, dtype=np.int64), *self.members]).astype(np.int64)

    def nbytes(self) -> int:
        """Bytes held by the slice counts."""
        return self._good.nbytes() + self._counted.nbytes()

    def add(self, g: int, k_first: int, counted: Bools, a: F64, b: F64) -> None:
        """Summaries of group ``g``'s slices ``k_first …``: all final but the last, which is open.

        ``k_first`` is the group's open slice (``k_final + 1``), or its first slice.
        """
        n = len(counted)
        if n == 0:
            return
        if self.g_k0[g] == NO_SLICE:
            self.g_k0[g] = k_first
            self.g_k_final[g] = k_first - 1
        k_final = int(self.g_k_final[g])
        if k_first != k_final + 1:
            raise ValueError(f"slice group {g}: slices must continue at {k_final + 1}, got {k_first}")
        objs = self.members[g]
        k0 = int(self.g_k0[g])
        good = counted[None, :] & (a[None, :] >= self.lo[objs, None]) & (b[None, :] <= self.hi[objs, None])
        if n > 1:
            k_prev = np.full(len(objs), k_final)
            prev = self._good.through(objs, k_prev, np.full(len(objs), k0))
            c_prev = int(self._counted.through(np.asarray([g]), k_prev[:1], np.asarray([k0]))[0])
            if n == 2:  # one slice becomes final (the usual tick)
                self._good.put(objs, k_prev + 1, prev + good[:, 0])
                self._counted.put(np.asarray([g]), k_prev[:1] + 1, np.asarray([c_prev + int(counted[0])]))
            else:
                cum = prev[:, None] + np.cumsum(good[:, :-1], axis=1, dtype=np.int64)
                for i, j in enumerate(objs.tolist()):
                    self._good.write(j, k_final + 1, cum[i])
                self._counted.write(g, k_final + 1, c_prev + np.cumsum(counted[:-1], dtype=np.int64))
            self.g_k_final[g] = k_final + n - 1
        self.g_open[g] = True
        self.g_open_counted[g] = int(counted[-1])
        self.open_good[objs] = good[:, -1]

    def add_pairs(
        self, groups: I64, k_first: I64, n: I64, counted: Bools, a: F64, b: F64, base: I64
    ) -> None:
        """``add`` for many distinct groups at once, each with one or two slices (``n``): group
        ``groups[i]``'s summaries start at ``base[i]`` of ``counted``, ``a``, ``b`` (the usual tick)."""
        new = self.g_k0[groups] == NO_SLICE
        if new.any():
            self.g_k0[groups[new]] = k_first[new]
            self.g_k_final[groups[new]] = k_first[new] - 1
        k_final = self.g_k_final[groups]
        if (k_first != k_final + 1).any():
            i = int(np.flatnonzero(k_first != k_final + 1)[0])
            raise ValueError(
                f"slice group {int(groups[i])}: slices must continue at {int(k_final[i]) + 1}, got {int(k_first[i])}"
            )
        row, entry = csr_rows(self._obj_ptr, groups)
        objs = self._obj_ids[entry]
        first, last = base[row], base[row] + n[row] - 1
        lo, hi = self.lo[objs], self.hi[objs]
        good_first = counted[first] & (a[first] >= lo) & (b[first] <= hi)
        good_last = counted[last] & (a[last] >= lo) & (b[last] <= hi)
        two = n == 2
        if two.any():  # the first slice becomes final
            fin = two[row]
            o, r = objs[fin], row[fin]
            k0 = self.g_k0[groups]
            prev = self._good.through(o, k_final[r], k0[r])
            self._good.put(o, k_final[r] + 1, prev + good_first[fin])
            g2 = groups[two]
            c_prev = self._counted.through(g2, k_final[two], k0[two])
            self._counted.put(g2, k_final[two] + 1, c_prev + counted[base[two]])
            self.g_k_final[g2] = k_final[two] + 1
        self.g_open[groups] = True
        self.g_open_counted[groups] = counted[base + n - 1]
        self.open_good[objs] = good_last

    def counts(self, at_ms: int, windows_ms: I64) -> tuple[I64, I64]:
        """(good, counted) slices whose end lies in ``(at - W, at]``, per objective and window."""
        objs = np.broadcast_to(np.arange(self.n)[:, None], (self.n, len(windows_ms)))
        return self.counts_in(objs, np.broadcast_to(at_ms - windows_ms[None, :], objs.shape), at_ms)

    def counts_in(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]:
        """(good, counted) slices of objectives ``objs`` whose end lies in ``(lo_ms, hi_ms]`` (element-wise)."""
        g = self.group[objs]
        s_ms = self.g_slice_ms[g]
        k0, k_final = self.g_k0[g], self.g_k_final[g]
        has = k0 != NO_SLICE
        base = np.maximum(k0, k_final - (self.cap[objs] - 1) + 1)
        k_hi = hi_ms // s_ms
        k_lo = np.maximum(lo_ms // s_ms + 1, base)
        fin_hi = np.minimum(k_hi, k_final)
        fin_ok = has & (fin_hi >= k_lo)
        good = np.where(fin_ok, self._good.through(objs, fin_hi, k0) - self._good.through(objs, k_lo - 1, k0), 0)
        counted = np.where(
            fin_ok, self._counted.through(g, fin_hi, k0) - self._counted.through(g, k_lo - 1, k0), 0
        )
        k_open = k_final + 1
        open_in = has & self.g_open[g] & (k_open >= k_lo) & (k_open <= k_hi)
        good = good + np.where(open_in, self.open_good[objs], 0)
        counted = counted + np.where(open_in, self.g_open_counted[g], 0)
        return good.astype(np.int64), counted.astype(np.int64)


def slice_index(ts: I64, slice_ms: int) -> I64:
    """The slice each timestamp belongs to (slice ``k`` covers ``((k-1)·S, k·S]``)."""
    out: I64 = -(-ts // slice_ms)
    return out


def throughput_slices(k: I64, inc: F64, known: Bools, k_first: int, n: int, slice_ms: int) -> tuple[Bools, F64]:
    """Per slice ``k_first … k_first+n-1``: whether it counts and its rate (increase per second).

    Rows are samples of any of the group's series, in slices ``k``: ``inc`` the reset-corrected
    increase since the series' previous sample, ``known`` False for a series' first sample (no
    previous value, so no increase is known). A slice counts when it holds a sample with a known
    increase.
    """
    rel = k - k_first
    total = np.bincount(rel, weights=np.where(known, inc, 0.0), minlength=n)[:n].astype(np.float64, copy=False)
    seen = np.bincount(rel, weights=known.astype(np.float64), minlength=n)[:n]
    rate: F64 = total / (slice_ms / 1000.0)
    return seen > 0, rate


def band_slices(
    k: I64, series: I64, values: F64, pool: I64, n_pools: int, aggregate: str, k_first: int, n: int
) -> tuple[Bools, F64]:
    """Per slice and pool, the aggregate of each series' last value in the slice (NaN: no sample).

    Rows (in slices ``k``) must be sorted by series, then time; ``pool[i]`` is row ``i``'s group of
    ``by`` labels.
    Returns whether each slice counts (any sample) and the ``n × n_pools`` aggregates. A series
    without a sample in a slice takes no part in it (a vanished GPU is not read as 0).
    """
    rel = k - k_first
    last = np.ones(len(rel), dtype=np.bool_)
    last[:-1] = (series[1:] != series[:-1]) | (rel[1:] != rel[:-1])
    rel, val = rel[last], values[last]
    key = rel * n_pools + pool[last]
    size = n * n_pools
    count = np.bincount(key, minlength=size)[:size]
    agg: F64
    if aggregate == "avg":
        total = np.bincount(key, weights=val, minlength=size)[:size]
        agg = np.divide(total, count, out=np.full(size, np.nan), where=count > 0)
    else:
        agg = np.full(size, -np.inf if aggregate == "max" else np.inf)
        (np.maximum if aggregate == "max" else np.minimum).at(agg, key, val)
        agg[count == 0] = np.nan
    grid = agg.reshape(n, n_pools)
    counted: Bools = np.bincount(rel, minlength=n)[:n] > 0
    return counted, grid


def band_extremes(grid: F64) -> tuple[F64, F64]:
    """The lowest and highest pool aggregate of each slice (NaN where no pool has a sample)."""
    if grid.shape[1] > 16:
        return np.fmin.reduce(grid, axis=1), np.fmax.reduce(grid, axis=1)
    low, high = grid[:, 0].copy(), grid[:, 0].copy()
    for j in range(1, grid.shape[1]):  # column by column: fast for the usual few pools
        np.fmin(low, grid[:, j], out=low)
        np.fmax(high, grid[:, j], out=high)
    return low, high
