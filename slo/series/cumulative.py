"""Reset-corrected cumulative counts, so that a window's increase is two lookups, not a rescan.

``CounterSides`` holds every *side* of the objectives (errors, good or total events of one
selector): side ``s``'s count is the sum over its series of each series' reset-corrected
increase since its first sample. A series present from the start therefore contributes only
its increase, and a drop in a series' value is a reset (the new value is all increase).

All sides live in shared arrays, so that ``increases`` answers every side and window of an
evaluation with a handful of numpy operations. Two tiers, chosen for memory (1,000 objectives
× 30 days must fit comfortably):

- **fine**: every distinct scrape timestamp of the side (int64 ms, float64 cumulative) for the
  last ``fine_keep_ms`` (default 7 h, enough for the 6 h burn window and an hour of ``--at``),
  one segment per side in a shared pool. Windows up to ``fine_span_ms`` use Prometheus 2.42's
  extrapolation on this aggregate, so error ratios match
  ``sum(rate(errors[W])) / sum(rate(total[W]))``. At 15 s scrapes: 1,680 points, 27 kB a side.
- **coarse**: the cumulative value at every minute boundary (value of the latest sample at or
  before it), a ring of whole hours per side covering at least ``keep_minutes``. Stored as
  float32 offsets from a float64 anchor per hour (4.1 bytes a minute, 183 kB per side for
  31 days) — float32 alone would lose small error counts under large totals, float64 would
  double the memory. Long windows read it with at most one minute of edge error (< 0.07% of
  a day).

Building: ``append`` adds one side's new points from per-series arrays (a cold start sums each
series' increments onto the minute grid with ``np.bincount`` and one cumsum, and merges only the
last ``fine_keep_ms`` of points into the fine tier); ``append_points`` adds one point to many
sides at once (a scrape tick); ``merge_late`` folds in points not newer than the side's newest.
With whole-number counts every path gives bit-identical state; otherwise they agree to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from redline.slo.series.increase import extrapolate_increases

__all__ = ["NO_TS", "CounterSides", "segment_search"]

MINUTE_MS = 60_000
_HOUR = 60
NO_TS = -(2**63)
"""Timestamp sentinel: no data yet."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def segment_search(pool: I64, off: I64, length: I64, target: I64, *, right: bool) -> I64:
    """``np.searchsorted(pool[off:off+length], target)`` per query, for many segments at once.

    Each query has its own ascending segment of ``pool``; the result is the index within it
    (``side="right"`` when ``right``). A vectorised binary search: one pass per bit of the
    longest segment.
    """
    lo = np.zeros(len(off), dtype=np.int64)
    if len(off) == 0 or len(pool) == 0:
        return lo
    hi = length.astype(np.int64, copy=True)
    top = len(pool) - 1
    for _ in range(int(hi.max()).bit_length()):
        mid = (lo + hi) >> 1
        probe = pool[np.minimum(off + mid, top)]
        go_right = (probe <= target) if right else (probe < target)
        go_right &= lo < hi
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(go_right, hi, mid)
    return lo


class CounterSides:
    """Every side's reset-corrected cumulative count (see the module docstring for the tiers)."""

    def __init__(
        self,
        n_sides: int,
        *,
        keep_minutes: int,
        fine_span_ms: int = 6 * 3_600_000,
        fine_keep_ms: int = 7 * 3_600_000,
    ) -> None:
        if fine_keep_ms < fine_span_ms:
            raise ValueError("fine_keep_ms must be at least fine_span_ms")
        self.n = n_sides
        self.fine_span_ms = fine_span_ms
        self.fine_keep_ms = fine_keep_ms
        self.cap_h = -(-keep_minutes // _HOUR) + 1
        self.cap_min = self.cap_h * _HOUR
        self.first_ts = np.full(n_sides, NO_TS, dtype=np.int64)
        self.last_ts = np.full(n_sides, NO_TS, dtype=np.int64)
        self.last_value = np.zeros(n_sides, dtype=np.float64)
        self.k0 = np.zeros(n_sides, dtype=np.int64)  # first minute of the coarse tier
        self.last_minute = np.zeros(n_sides, dtype=np.int64)
        # coarse ring: minute k at column k % cap_min, the anchor of hour h at h % cap_h
        # (zero pages: memory is taken as sides receive data)
        self._rel = np.zeros((n_sides, self.cap_min), dtype=np.float32)
        self._anchor = np.zeros((n_sides, self.cap_h), dtype=np.float64)
        # fine segments in a shared pool
        self._pool_ts = np.zeros(0, dtype=np.int64)
        self._pool_cum = np.zeros(0, dtype=np.float64)
        self._pool_used = 0
        self.seg_off = np.zeros(n_sides, dtype=np.int64)
        self.seg_len = np.zeros(n_sides, dtype=np.int64)
        self.seg_cap = np.zeros(n_sides, dtype=np.int64)

    def nbytes(self) -> int:
        """Bytes held by both tiers and the per-side bookkeeping."""
        arrays = (
            self._rel, self._anchor, self._pool_ts, self._pool_cum, self.first_ts, self.last_ts,
            self.last_value, self.k0, self.last_minute, self.seg_off, self.seg_len, self.seg_cap,
        )
        return sum(int(a.nbytes) for a in arrays)

    # -- fine segments ---------------------------------------------------------------------

    def _alloc(self, size: int) -> int:
        """Room for a segment of ``size`` points at the pool's end (growing or repacking it)."""
        if self._pool_used + size > len(self._pool_ts):
            live = int(self.seg_cap.sum())
            if live + size <= len(self._pool_ts) // 2:
                self._repack(len(self._pool_ts))
            else:
                self._repack(max(2 * (live + size), 1024))
        off = self._pool_used
        self._pool_used += size
        return off

    def _repack(self, capacity: int) -> None:
        ts = np.zeros(capacity, dtype=np.int64)
        cum = np.zeros(capacity, dtype=np.float64)
        pos = 0
        for s in np.flatnonzero(self.seg_cap).tolist():
            o, n, c = int(self.seg_off[s]), int(self.seg_len[s]), int(self.seg_cap[s])
            ts[pos : pos + n] = self._pool_ts[o : o + n]
            cum[pos : pos + n] = self._pool_cum[o : o + n]
            self.seg_off[s] = pos
            pos += c
        self._pool_ts, self._pool_cum, self._pool_used = ts, cum, pos

    def _reserve(self, s: int, extra: int) -> None:
        """Room for ``extra`` more points in side ``s``'s segment: drop points the fine tier no
        longer needs (all but the last before ``last_ts - fine_keep_ms``), else move it."""
        o, n, cap = int(self.seg_off[s]), int(self.seg_len[s]), int(self.seg_cap[s])
        if n + extra <= cap:
            return
        cut = 0
        if n:
            horizon = int(self.last_ts[s]) - self.fine_keep_ms
            cut = max(int(np.searchsorted(self._pool_ts[o : o + n], horizon, side="left")) - 1, 0)
        keep = n - cut
        if keep + extra <= cap and 2 * keep <= cap:
            self._pool_ts[o : o + keep] = self._pool_ts[o + cut : o + n]
            self._pool_cum[o : o + keep] = self._pool_cum[o + cut : o + n]
            self.seg_len[s] = keep
            return
        new_cap = max(2 * (keep + extra), 16)
        kept_ts = self._pool_ts[o + cut : o + n].copy()  # the pool may be repacked by _alloc
        kept_cum = self._pool_cum[o + cut : o + n].copy()
        self.seg_cap[s] = 0  # the old place is dead: not copied if the pool is repacked
        self.seg_len[s] = 0
        new_off = self._alloc(new_cap)
        self._pool_ts[new_off : new_off + keep] = kept_ts
        self._pool_cum[new_off : new_off + keep] = kept_cum
        self.seg_off[s], self.seg_len[s], self.seg_cap[s] = new_off, keep, new_cap

    def _fine_write(self, s: int, ts: I64, cum: F64) -> None:
        self._reserve(s, len(ts))
        at = int(self.seg_off[s] + self.seg_len[s])
        self._pool_ts[at : at + len(ts)] = ts
        self._pool_cum[at : at + len(ts)] = cum
        self.seg_len[s] += len(ts)

    # -- coarse ring -----------------------------------------------------------------------

    def _write_minutes(self, s: int, k_from: int, values: F64) -> None:
        """Store the values of minutes ``k_from, k_from + 1, …`` (continuing the side's minutes)."""
        k_to = k_from + len(values) - 1
        lo = max(k_from, (k_to // _HOUR - self.cap_h + 1) * _HOUR)  # whole hours that fit
        if lo > k_from:
            values = values[lo - k_from :]
            k_from = lo
        m = len(values)
        h_from, h_to = k_from // _HOUR, k_to // _HOUR
        hours = np.arange(h_from, h_to + 1, dtype=np.int64)
        firsts = np.maximum(hours * _HOUR, k_from) - k_from  # first written minute of each hour
        anchors = values[firsts]
        if k_from % _HOUR != 0 and k_from != int(self.k0[s]):
            anchors[0] = self._anchor[s, h_from % self.cap_h]  # the hour was begun before
        self._anchor[s, hours % self.cap_h] = anchors
        counts = np.diff(np.append(firsts, m))
        rel = (values - np.repeat(anchors, counts)).astype(np.float32)
        slot = k_from % self.cap_min
        head = min(m, self.cap_min - slot)
        self._rel[s, slot : slot + head] = rel[:head]
        if head < m:
            self._rel[s, : m - head] = rel[head:]

    def _retained_from(self, sides: I64 | int) -> I64:
        """The first minute each side's ring still holds."""
        first_kept = (self.last_minute[sides] // _HOUR - self.cap_h + 1) * _HOUR
        out: I64 = np.maximum(self.k0[sides], first_kept)
        return out

    def _coarse_values(self, sides: I64, minutes: I64) -> F64:
        m = np.minimum(np.maximum(minutes, self._retained_from(sides)), self.last_minute[sides])
        out: F64 = self._anchor[sides, (m // _HOUR) % self.cap_h] + self._rel[sides, m % self.cap_min]
        return out

    def _coarse_add_from(self, s: int, minute: int, delta: float) -> None:
        """Add ``delta`` to every stored minute from ``minute`` on (a late sample)."""
        last = int(self.last_minute[s])
        if minute > last:
            return
        minute = max(minute, int(self._retained_from(s)))
        h = minute // _HOUR
        ks = np.arange(minute, min(h * _HOUR + _HOUR - 1, last) + 1)
        self._rel[s, ks % self.cap_min] += np.float32(delta)
        hours = np.arange(h + 1, last // _HOUR + 1)
        self._anchor[s, hours % self.cap_h] += delta

    # -- building --------------------------------------------------------------------------

    def append(self, s: int, members: Sequence[tuple[I64, F64]]) -> None:
        """Add side ``s``'s new points: per series (timestamps, increments), each strictly
        ascending and newer than the side's newest point. Several series may share timestamps."""
        parts = [(t, i) for t, i in members if len(t)]
        if not parts:
            return
        base = float(self.last_value[s])
        new_last = max(int(t[-1]) for t, _ in parts)
        if self.first_ts[s] == NO_TS:
            first = min(int(t[0]) for t, _ in parts)
            self.first_ts[s] = first
            self.k0[s] = first // MINUTE_MS
            self.last_minute[s] = self.k0[s] - 1
        # coarse: each new minute boundary takes the sum of the increments at or before it
        k_from = int(self.last_minute[s]) + 1
        k_to = new_last // MINUTE_MS
        if k_to >= k_from:
            m = k_to - k_from + 1
            per_minute: F64 | None = None
            for t, i in parts:
                bins = np.minimum(-(-t // MINUTE_MS) - k_from, m)
                counts: F64 = np.bincount(bins, weights=i, minlength=m + 1).astype(np.float64, copy=False)
                per_minute = counts if per_minute is None else per_minute + counts
            assert per_minute is not None
            self._write_minutes(s, k_from, base + np.cumsum(per_minute[:m]))
            self.last_minute[s] = k_to
        # fine: the points within the fine tier's reach, plus the last one before it
        horizon = new_last - self.fine_keep_ms
        pre = base
        before = NO_TS
        tails_t: list[I64] = []
        tails_i: list[F64] = []
        for t, i in parts:
            j = int(np.searchsorted(t, horizon, side="left"))
            if j > 0:
                pre += float(i[:j].sum())
                before = max(before, int(t[j - 1]))
            tails_t.append(t[j:])
            tails_i.append(i[j:])
        if len(parts) == 1:
            ts_u = tails_t[0]
            cum_u = pre + np.cumsum(tails_i[0])
        else:  # the increments at one timestamp are summed first (series order), then accumulated
            ts_all = np.concatenate(tails_t)
            order = np.argsort(ts_all, kind="stable")
            ts_sorted = ts_all[order]
            first_of = np.flatnonzero(np.concatenate([[True], ts_sorted[1:] != ts_sorted[:-1]]))
            ts_u = ts_sorted[first_of]
            cum_u = pre + np.cumsum(np.add.reduceat(np.concatenate(tails_i)[order], first_of))
        if before != NO_TS:  # everything older is out of reach: restart the segment
            self.seg_len[s] = 0
            ts_u = np.concatenate([np.array([before], dtype=np.int64), ts_u])
            cum_u = np.concatenate([np.array([pre]), cum_u])
        self._fine_write(s, ts_u, cum_u)
        self.last_ts[s] = new_last
        self.last_value[s] = float(cum_u[-1])

    def append_points(self, sides: I64, ts: I64, steps: F64) -> None:
        """Add one new point to each of ``sides`` (distinct), all at once: the increment ``steps``
        at ``ts``, newer than the side's newest, with at most an hour of new minute boundaries.

        Gives the same state as ``append`` with that one point (a scrape tick's fast path).
        """
        if len(sides) == 0:
            return
        empty = self.first_ts[sides] == NO_TS
        if empty.any():
            e = sides[empty]
            self.first_ts[e] = ts[empty]
            self.k0[e] = ts[empty] // MINUTE_MS
            self.last_minute[e] = self.k0[e] - 1
        base = self.last_value[sides]
        cum = base + steps
        k_from = self.last_minute[sides] + 1
        k_to = ts // MINUTE_MS
        n_min = np.maximum(k_to - k_from + 1, 0)
        total = int(n_min.sum())
        if total:
            rows = np.repeat(np.arange(len(sides)), n_min)
            k = np.repeat(k_from - np.cumsum(n_min) + n_min, n_min) + np.arange(total)
            s_k = sides[rows]
            values = np.where(k * MINUTE_MS >= ts[rows], cum[rows], base[rows])
            a_slot = (k // _HOUR) % self.cap_h
            anchor_here = (k % _HOUR == 0) | (k == self.k0[s_k])
            self._anchor[s_k[anchor_here], a_slot[anchor_here]] = values[anchor_here]
            self._rel[s_k, k % self.cap_min] = (values - self._anchor[s_k, a_slot]).astype(np.float32)
            self.last_minute[sides] = np.maximum(self.last_minute[sides], k_to)
        for s in sides[self.seg_len[sides] >= self.seg_cap[sides]].tolist():
            self._reserve(s, 1)
        pos = self.seg_off[sides] + self.seg_len[sides]
        self._pool_ts[pos] = ts
        self._pool_cum[pos] = cum
        self.seg_len[sides] += 1
        self.last_ts[sides] = ts
        self.last_value[sides] = cum

    def merge_late_parts(self, s: int, times: list[I64], increments: list[F64]) -> None:
        """Fold several runs of late increments (each sorted) into side ``s``: one point per
        distinct time, increments at the same time summed."""
        lt, li = np.concatenate(times), np.concatenate(increments)
        order = np.argsort(lt, kind="stable")
        lt, li = lt[order], li[order]
        distinct = np.concatenate([lt[1:] != lt[:-1], [True]])
        cum = np.cumsum(li)[distinct]
        self.merge_late(s, lt[distinct], np.diff(cum, prepend=0.0))

    def merge_late(self, s: int, ts: I64, steps: F64) -> None:
        """Fold points at or before the side's newest into both tiers, one by one (rare)."""
        for t, d in zip(ts.tolist(), steps.tolist(), strict=True):
            self._reserve(s, 1)
            o, n = int(self.seg_off[s]), int(self.seg_len[s])
            pos = int(np.searchsorted(self._pool_ts[o : o + n], t, side="left"))
            exact = pos < n and int(self._pool_ts[o + pos]) == t
            older_than_fine = pos == 0 and n > 0 and int(self._pool_ts[o]) > int(self.first_ts[s])
            if not exact and not older_than_fine:
                before = float(self._pool_cum[o + pos - 1]) if pos > 0 else 0.0
                self._pool_ts[o + pos + 1 : o + n + 1] = self._pool_ts[o + pos : o + n]
                self._pool_cum[o + pos + 1 : o + n + 1] = self._pool_cum[o + pos : o + n]
                self._pool_ts[o + pos] = t
                self._pool_cum[o + pos] = before
                n += 1
                self.seg_len[s] = n
            self._pool_cum[o + pos : o + n] += d
            self._coarse_add_from(s, -(-t // MINUTE_MS), d)
            self.first_ts[s] = min(int(self.first_ts[s]), t)
            self.last_value[s] = float(self._pool_cum[o + n - 1])

    # -- reading ---------------------------------------------------------------------------

    def _values(self, sides: I64, t: I64, right: I64, fine_from: I64, first: I64) -> F64:
        """Cumulative counts at ``t`` (latest sample at or before; 0 before any): from the fine
        tier where ``t >= fine_from`` (``right`` = points at or before ``t``), else the coarse."""
        idx = np.minimum(self.seg_off[sides] + right - 1, max(len(self._pool_cum) - 1, 0))
        fine = np.where(right > 0, self._pool_cum[idx] if len(self._pool_cum) else 0.0, 0.0)
        coarse = self._coarse_values(sides, t // MINUTE_MS)
        out: F64 = np.where(t < first, 0.0, np.where(t >= fine_from, fine, coarse))
        return out

    def values_at(self, sides: I64, t: I64) -> F64:
        """Each side's cumulative count at ``t`` (element-wise): the latest sample at or before it,
        0 before the side's first; older than the fine tier, the latest minute boundary at or
        before ``t``. ``value_at(s, b) - value_at(s, a)`` is the increase over ``[a, b]``
        without extrapolation (maintenance and calendar windows)."""
        if len(sides) == 0:
            return np.zeros(0, dtype=np.float64)
        first = self.first_ts[sides]
        off, length = self.seg_off[sides], self.seg_len[sides]
        fine_from = np.maximum(first, self.last_ts[sides] - self.fine_keep_ms)
        right = segment_search(self._pool_ts, off, length, t, right=True)
        out = self._values(sides, t, right, fine_from, first)
        return np.where(first == NO_TS, 0.0, out)

    def increases(self, at_ms: int, windows_ms: I64) -> tuple[F64, Bools]:
        """Every side's increase over each window ``[at - W, at]`` and whether it is known.

        Windows up to ``fine_span_ms`` whose start lies in the fine tier follow Prometheus
        2.42 (two samples needed, extrapolation to the edges, no zero-start limit on an
        aggregate): ``extrapolate_increases(cum[last in window] − cum[first in window], …)``;
        longer ones are ``value(at) − value(at − W)``. Data after ``at_ms`` is ignored.
        """
        nw = len(windows_ms)
        out = np.zeros((self.n, nw), dtype=np.float64)
        known_out = np.zeros((self.n, nw), dtype=np.bool_)
        live = np.flatnonzero((self.first_ts != NO_TS) & (self.first_ts <= at_ms))
        if len(live) == 0:
            return out, known_out
        n_live = len(live)
        first, last = self.first_ts[live], self.last_ts[live]
        off, length = self.seg_off[live], self.seg_len[live]
        fine_from = np.maximum(first, last - self.fine_keep_ms)
        at_arr = np.full(n_live, at_ms, dtype=np.int64)
        after_at = segment_search(self._pool_ts, off, length, at_arr, right=True)  # points at or before at
        value_at = self._values(live, at_arr, after_at, fine_from, first)

        # one query per (live side, window)
        side_of = np.repeat(np.arange(n_live), nw)
        window_ms = np.tile(windows_ms, n_live)
        window_start_ms = at_ms - window_ms
        first_in = segment_search(self._pool_ts, off[side_of], length[side_of], window_start_ms, right=False)
        top = max(len(self._pool_ts) - 1, 0)
        at_start = (first_in < length[side_of]) & (
            self._pool_ts[np.minimum(off[side_of] + first_in, top)] == window_start_ms
        )
        value_start = self._values(
            live[side_of], window_start_ms, first_in + at_start, fine_from[side_of], first[side_of]
        )
        increase = value_at[side_of] - value_start

        fine = (window_ms <= self.fine_span_ms) & (window_start_ms >= fine_from[side_of])
        samples = after_at[side_of] - first_in  # points in [at - W, at]
        known = ~fine | (samples >= 2)
        extrapolated = np.flatnonzero(fine & (samples >= 2))
        if len(extrapolated):
            i_first = off[side_of[extrapolated]] + first_in[extrapolated]
            i_last = off[side_of[extrapolated]] + after_at[side_of[extrapolated]] - 1
            raw_increase = self._pool_cum[i_last] - self._pool_cum[i_first]
            increase[extrapolated] = extrapolate_increases(
                raw_increase, self._pool_ts[i_first], self._pool_ts[i_last], samples[extrapolated],
                window_start_ms[extrapolated], np.full(len(extrapolated), at_ms, dtype=np.int64),
            )
        out[live] = increase.reshape(n_live, nw)
        known_out[live] = known.reshape(n_live, nw)
        return out, known_out
