"""Reset-corrected cumulative counts, so that a window's increase is two lookups, not a rescan.

``CounterSides`` holds every *side* of the objectives (errors, good or total events of one
selector): side ``side``'s count is the sum over its series of each series' reset-corrected
increase since its first sample,

    cumulative(side, t) = Σ_series Σ_{samples at or before t} increment,

so a series present from the start contributes only its increase, and a drop in a series' value
is a reset (the new value is all increase). The increase over ``[a, b]`` is then
``cumulative(b) − cumulative(a)``.

All sides live in shared arrays, so that ``increases`` answers every side and window of an
evaluation with a handful of numpy operations. Two tiers, chosen for memory (1,000 objectives
× 30 days must fit comfortably):

- **fine** (``slo.series.segments.FineSegments``): every distinct scrape timestamp of the side
  (int64 ms, float64 cumulative) for the last ``fine_keep_ms`` (default 7 h, enough for the 6 h
  burn window and an hour of ``--at``), one segment per side in a shared pool. Windows up to
  ``fine_span_ms`` use Prometheus 2.42's extrapolation on this aggregate, so error ratios match
  ``sum(rate(errors[W])) / sum(rate(total[W]))``. At 15 s scrapes: 1,680 points, 27 kB a side.
- **coarse** (``slo.series.minutes.MinuteRing``): the cumulative value at every minute boundary
  (value of the latest sample at or before it), a ring of whole hours per side covering at least
  ``keep_minutes``, stored as float32 offsets from a float64 anchor per hour (4.1 bytes a
  minute, 183 kB per side for 31 days). Long windows read it with at most one minute of edge
  error (< 0.07% of a day).

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
from redline.slo.series.minutes import MINUTE_MS, MINUTES_PER_HOUR, MinuteRing
from redline.slo.series.segments import FineSegments, segment_search

__all__ = ["NO_TS", "CounterSides", "segment_search", "sum_per_side_and_time", "sum_per_time"]

NO_TS = -(2**63)
"""Timestamp sentinel: no data yet."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def sum_per_time(times: Sequence[I64], increments: Sequence[F64]) -> tuple[I64, F64]:
    """Several series' (times, increments) as one: the distinct times, ascending, and at each the
    sum of the increments there (``Σ_series increment(t)``, added in series order)."""
    if len(times) == 1:
        return times[0], increments[0]
    all_times = np.concatenate(times)
    order = np.argsort(all_times, kind="stable")
    sorted_times = all_times[order]
    first_of_time = np.flatnonzero(np.concatenate([[True], sorted_times[1:] != sorted_times[:-1]]))
    summed: F64 = np.add.reduceat(np.concatenate(increments)[order], first_of_time)
    return sorted_times[first_of_time], summed


def sum_per_side_and_time(side: I64, time_ms: I64, increment: F64) -> tuple[I64, I64, F64, I64]:
    """Rows (side, time, increment) as one point per (side, time): the sides and times, sorted,
    ``step = Σ increment`` over the rows of each (added in row order: the sort is stable), and
    the index of each side's first point (``first_point``)."""
    order = np.lexsort((time_ms, side))
    side, time_ms, increment = side[order], time_ms[order], increment[order]
    new_pair = np.concatenate([[True], (side[1:] != side[:-1]) | (time_ms[1:] != time_ms[:-1])])
    first_of_pair = np.flatnonzero(new_pair)
    point_side, point_time = side[first_of_pair], time_ms[first_of_pair]
    step: F64 = np.add.reduceat(increment, first_of_pair)
    first_point = np.flatnonzero(np.concatenate([[True], point_side[1:] != point_side[:-1]]))
    return point_side, point_time, step, first_point


class CounterSides:
    """Every side's reset-corrected cumulative count: the newest point per side, and the two
    tiers that answer older times (see the module docstring)."""

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
        self.first_ts = np.full(n_sides, NO_TS, dtype=np.int64)
        self.last_ts = np.full(n_sides, NO_TS, dtype=np.int64)
        self.last_value = np.zeros(n_sides, dtype=np.float64)
        self.fine = FineSegments(n_sides, fine_keep_ms)
        self.coarse = MinuteRing(n_sides, keep_minutes)

    def grow(self, n_sides: int) -> None:
        """Room for ``n_sides`` sides in all (the new ones without data)."""
        extra = n_sides - self.n
        if extra <= 0:
            return
        self.first_ts = np.concatenate([self.first_ts, np.full(extra, NO_TS, dtype=np.int64)])
        self.last_ts = np.concatenate([self.last_ts, np.full(extra, NO_TS, dtype=np.int64)])
        self.last_value = np.concatenate([self.last_value, np.zeros(extra, dtype=np.float64)])
        self.fine.grow(n_sides)
        self.coarse.grow(n_sides)
        self.n = n_sides

    @property
    def last_minute(self) -> I64:
        """Each side's last minute boundary stored in the coarse tier."""
        return self.coarse.last_minute

    def nbytes(self) -> int:
        """Bytes held by both tiers and the per-side bookkeeping."""
        newest = (self.first_ts, self.last_ts, self.last_value)
        return self.fine.nbytes() + self.coarse.nbytes() + sum(int(a.nbytes) for a in newest)

    # -- building --------------------------------------------------------------------------

    def takes_one_point(self, sides: I64, time_ms: I64) -> Bools:
        """Whether one point at ``time_ms`` can go through ``append_points``: newer than the side's
        newest, at most an hour of new minute boundaries."""
        last = self.last_ts[sides]
        has = last != NO_TS
        new_minutes = time_ms // MINUTE_MS - np.where(has, self.last_minute[sides], time_ms // MINUTE_MS - 1)
        out: Bools = (~has | (time_ms > last)) & (new_minutes <= MINUTES_PER_HOUR)
        return out

    def append(self, side: int, members: Sequence[tuple[I64, F64]]) -> None:
        """Add ``side``'s new points: per series (timestamps, increments), each strictly
        ascending and newer than the side's newest point. Several series may share timestamps."""
        parts = [(t, i) for t, i in members if len(t)]
        if not parts:
            return
        base = float(self.last_value[side])
        newest_ms = max(int(times[-1]) for times, _ in parts)
        if self.first_ts[side] == NO_TS:
            self.first_ts[side] = min(int(times[0]) for times, _ in parts)
            self.coarse.start(side, int(self.first_ts[side]))
        self.coarse.append(side, parts, base, newest_ms)
        # fine: the points within the fine tier's reach, plus the last one before it
        edge_ms = newest_ms - self.fine_keep_ms
        value_before_edge = base
        last_before_edge = NO_TS
        reach_times: list[I64] = []
        reach_increments: list[F64] = []
        for times, increments in parts:
            in_reach = int(np.searchsorted(times, edge_ms, side="left"))
            if in_reach > 0:
                value_before_edge += float(increments[:in_reach].sum())
                last_before_edge = max(last_before_edge, int(times[in_reach - 1]))
            reach_times.append(times[in_reach:])
            reach_increments.append(increments[in_reach:])
        times_u, increments_u = sum_per_time(reach_times, reach_increments)
        cumulative = value_before_edge + np.cumsum(increments_u)
        restart = last_before_edge != NO_TS
        if restart:  # everything older is out of reach: the segment starts at the edge's point
            times_u = np.concatenate([np.array([last_before_edge], dtype=np.int64), times_u])
            cumulative = np.concatenate([np.array([value_before_edge]), cumulative])
        self.fine.write(side, times_u, cumulative, int(self.last_ts[side]), restart=restart)
        self.last_ts[side] = newest_ms
        self.last_value[side] = float(cumulative[-1])

    def append_points(self, sides: I64, ts: I64, steps: F64) -> None:
        """Add one new point to each of ``sides`` (distinct), all at once: the increment ``steps``
        at ``ts``, newer than the side's newest, with at most an hour of new minute boundaries
        (``takes_one_point``). Gives the same state as ``append`` with that one point (a tick)."""
        if len(sides) == 0:
            return
        empty = self.first_ts[sides] == NO_TS
        if empty.any():
            self.first_ts[sides[empty]] = ts[empty]
            self.coarse.start(sides[empty], ts[empty])
        before = self.last_value[sides]
        after = before + steps
        self.coarse.append_one_each(sides, ts, before, after)
        self.fine.write_one_each(sides, ts, after, self.last_ts[sides])
        self.last_ts[sides] = ts
        self.last_value[sides] = after

    def merge_late_parts(self, side: int, times: list[I64], increments: list[F64]) -> None:
        """Fold several runs of late increments (each sorted) into ``side``: one point per
        distinct time, increments at the same time summed."""
        late_times, late_increments = np.concatenate(times), np.concatenate(increments)
        order = np.argsort(late_times, kind="stable")
        late_times, late_increments = late_times[order], late_increments[order]
        last_of_time = np.concatenate([late_times[1:] != late_times[:-1], [True]])
        running = np.cumsum(late_increments)[last_of_time]
        self.merge_late(side, late_times[last_of_time], np.diff(running, prepend=0.0))

    def merge_late(self, side: int, ts: I64, steps: F64) -> None:
        """Fold points at or before the side's newest into both tiers, one by one (rare)."""
        for time_ms, step in zip(ts.tolist(), steps.tolist(), strict=True):
            self.last_value[side] = self.fine.add_late(
                side, time_ms, step, int(self.last_ts[side]), int(self.first_ts[side])
            )
            self.coarse.add_from(side, -(-time_ms // MINUTE_MS), step)
            self.first_ts[side] = min(int(self.first_ts[side]), time_ms)

    # -- reading ---------------------------------------------------------------------------

    def _values(self, sides: I64, t: I64, count_at_or_before: I64, first: I64, fine_from: I64) -> F64:
        """Cumulative counts at ``t``: 0 before the side's first point (``first``); the fine
        tier's latest point at or before ``t`` (the first ``count_at_or_before`` of its segment)
        where ``t >= fine_from``; else the coarse tier's minute ``t // 60 s``."""
        fine = self.fine.value_before(sides, count_at_or_before)
        coarse = self.coarse.values(sides, t // MINUTE_MS)
        out: F64 = np.where(t < first, 0.0, np.where(t >= fine_from, fine, coarse))
        return out

    def _fine_from(self, sides: I64) -> I64:
        """The oldest time each side's fine tier answers: its first point, or ``fine_keep_ms``
        before its newest."""
        out: I64 = np.maximum(self.first_ts[sides], self.last_ts[sides] - self.fine_keep_ms)
        return out

    def values_at(self, sides: I64, t: I64) -> F64:
        """Each side's cumulative count at ``t`` (element-wise): the latest sample at or before it,
        0 before the side's first; older than the fine tier, the latest minute boundary at or
        before ``t``. ``value_at(s, b) - value_at(s, a)`` is the increase over ``[a, b]``
        without extrapolation (maintenance and calendar windows)."""
        if len(sides) == 0:
            return np.zeros(0, dtype=np.float64)
        first = self.first_ts[sides]
        out = self._values(sides, t, self.fine.count_at_or_before(sides, t), first, self._fine_from(sides))
        return np.where(first == NO_TS, 0.0, out)

    def increases(self, at_ms: int, windows_ms: I64) -> tuple[F64, Bools]:
        """Every side's increase over each window ``[at − W, at]`` and whether it is known.

        Windows up to ``fine_span_ms`` whose start lies in the fine tier follow Prometheus
        2.42 (two samples needed, extrapolation to the edges, no zero-start limit on an
        aggregate): ``extrapolate_increases(cumulative[last in window] − cumulative[first in
        window], …)``; longer ones are ``cumulative(at) − cumulative(at − W)``. Data after
        ``at_ms`` is ignored.
        """
        n_windows = len(windows_ms)
        out = np.zeros((self.n, n_windows), dtype=np.float64)
        known_out = np.zeros((self.n, n_windows), dtype=np.bool_)
        live = np.flatnonzero((self.first_ts != NO_TS) & (self.first_ts <= at_ms))
        if len(live) == 0:
            return out, known_out
        at = np.full(len(live), at_ms, dtype=np.int64)
        first, fine_from = self.first_ts[live], self._fine_from(live)
        points_to_at = self.fine.count_at_or_before(live, at)
        value_at = self._values(live, at, points_to_at, first, fine_from)

        # one query per (live side, window)
        row = np.repeat(np.arange(len(live)), n_windows)
        side = live[row]
        window_ms = np.tile(windows_ms, len(live))
        window_start_ms = at_ms - window_ms
        first_in = self.fine.count_at_or_before(side, window_start_ms, inclusive=False)
        point_at_start = (first_in < self.fine.length[side]) & (
            self.fine.times[self.fine.slot(side, first_in)] == window_start_ms
        )
        value_start = self._values(side, window_start_ms, first_in + point_at_start, first[row], fine_from[row])
        increase = value_at[row] - value_start

        in_fine = (window_ms <= self.fine_span_ms) & (window_start_ms >= fine_from[row])
        samples = points_to_at[row] - first_in  # points in [at − W, at]
        known = ~in_fine | (samples >= 2)
        rated = np.flatnonzero(in_fine & (samples >= 2))
        if len(rated):
            first_slot = self.fine.slot(side[rated], first_in[rated])
            last_slot = self.fine.slot(side[rated], points_to_at[row[rated]] - 1)
            increase[rated] = extrapolate_increases(
                self.fine.cumulative[last_slot] - self.fine.cumulative[first_slot],
                self.fine.times[first_slot], self.fine.times[last_slot], samples[rated],
                window_start_ms[rated], np.full(len(rated), at_ms, dtype=np.int64),
            )
        out[live] = increase.reshape(len(live), n_windows)
        known_out[live] = known.reshape(len(live), n_windows)
        return out, known_out
