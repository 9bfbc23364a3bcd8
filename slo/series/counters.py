"""Per-series counter state, so that every window's increase is Prometheus's ``increase()`` of each
series, then summed — ``sum(increase(x[W]))``, not the increase of the sum.

Prometheus extrapolates each series within its own samples (``slo.series.increase``): a series
that starts, stops or pauses inside a window is extended by at most half its mean interval
there, never to the window's edge. Extrapolating the sum of several series instead is off by up
to several percent at 5 minutes when instances are scraped with different phases, and at every
window when a sparse series (an error code seen for a few minutes) dominates the numerator.

``SeriesCounters`` keeps, per series (a *slot*):

- its reset-corrected cumulative count in the two tiers of ``CounterSides`` (one side per
  series): exact samples for the last ``fine_keep_ms`` (time, cumulative), a per-minute ring
  beyond. ``cumulative(t)`` is the sum of the series' increments at or before ``t``: its first
  sample adds 0, a drop in value (even a tiny one) is a reset whose increment is the new value;
- ``samples``: how many samples it has had (the fine tier's point ``i`` of ``length`` is sample
  ``samples − length + i + 1``);
- the counter's raw value as ``value = cumulative − offset``, the offset changing only at a
  reset: ``offset_now`` since ``offset_since_ms``, and the one before (for the zero-start limit,
  which needs the raw value of a window's first sample);
- its *lives*: runs of samples without a gap longer than ``life_gap_ms`` (a target that went
  away and came back). The current one is ``life_*``; closed ones are ``closed_lives[slot]``.

``increases(at, windows)`` answers per series and window:

- windows the fine tier holds (``W <= fine_span_ms``): Prometheus 2.42 exactly, on the samples;
- longer windows, whose start lies in the minute ring: the window's first sample is exact when
  the start falls before a life (a birth or a return after a gap inside the window: the life's
  first sample, value and cumulative count), else — the start inside a life — the count at the
  start is extended to from the first minute boundary after it at the window's mean rate, as
  Prometheus extends its first sample (which lies within one interval of the start); the sample
  count there is estimated from the life's mean interval. The end is exact (the fine tier's
  latest sample at or before ``at``).
"""

from __future__ import annotations

from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from redline.slo.series.cumulative import NO_TS, CounterSides
from redline.slo.series.increase import prometheus_increases
from redline.slo.series.minutes import MINUTE_MS

__all__ = ["Life", "SeriesCounters"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

LIFE_GAP_MS = 5 * MINUTE_MS
"""A gap between two samples longer than this ends a life (a target gone, then back)."""


class Life(NamedTuple):
    """A closed run of a series' samples: its first sample (time, raw value, cumulative count,
    sample number) and its last (time, cumulative count, sample number)."""

    start_ms: int
    start_value: float
    start_cumulative: float
    start_count: int
    end_ms: int
    end_cumulative: float
    end_count: int


_Array = TypeVar("_Array", I64, F64)


def _grown(a: _Array, n: int, fill: float) -> _Array:
    """``a`` lengthened to ``n`` with ``fill``."""
    out = np.full(n, fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


class SeriesCounters:
    """Every counter series' samples as Prometheus reads them (see the module docstring).
    Slots are added with ``grow``; not thread-safe."""

    def __init__(
        self, *, keep_minutes: int, fine_span_ms: int = 6 * 3_600_000, fine_keep_ms: int = 7 * 3_600_000,
        life_gap_ms: int = LIFE_GAP_MS,
    ) -> None:
        self.tiers = CounterSides(0, keep_minutes=keep_minutes, fine_span_ms=fine_span_ms, fine_keep_ms=fine_keep_ms)
        self.fine_span_ms = fine_span_ms
        self.keep_ms = keep_minutes * MINUTE_MS
        self.life_gap_ms = life_gap_ms
        self.n = 0
        self.samples = np.zeros(0, dtype=np.int64)
        self.last_raw = np.zeros(0, dtype=np.float64)
        self.offset_now = np.zeros(0, dtype=np.float64)
        self.offset_since_ms = np.zeros(0, dtype=np.int64)
        self.offset_before = np.zeros(0, dtype=np.float64)
        self.offset_before_since_ms = np.zeros(0, dtype=np.int64)
        self.life_start_ms = np.zeros(0, dtype=np.int64)
        self.life_start_value = np.zeros(0, dtype=np.float64)
        self.life_start_cumulative = np.zeros(0, dtype=np.float64)
        self.life_start_count = np.zeros(0, dtype=np.int64)
        self.closed_lives: dict[int, list[Life]] = {}

    def grow(self, n_slots: int) -> None:
        """Room for ``n_slots`` series: exactly that many when the tiers must grow from nothing
        (a cold start registers every series first), else doubling (series trickling in)."""
        if n_slots <= self.n:
            return
        if n_slots > self.tiers.n:
            room = n_slots if self.tiers.n == 0 else max(n_slots, 2 * self.tiers.n)
            self.tiers.grow(room)
            self.samples = _grown(self.samples, room, 0)
            self.last_raw = _grown(self.last_raw, room, np.nan)
            self.offset_now = _grown(self.offset_now, room, 0.0)
            self.offset_since_ms = _grown(self.offset_since_ms, room, NO_TS)
            self.offset_before = _grown(self.offset_before, room, np.nan)
            self.offset_before_since_ms = _grown(self.offset_before_since_ms, room, NO_TS)
            self.life_start_ms = _grown(self.life_start_ms, room, NO_TS)
            self.life_start_value = _grown(self.life_start_value, room, np.nan)
            self.life_start_cumulative = _grown(self.life_start_cumulative, room, 0.0)
            self.life_start_count = _grown(self.life_start_count, room, 0)
        self.n = n_slots

    def nbytes(self) -> int:
        """Bytes held by the tiers and the per-series bookkeeping."""
        arrays = (
            self.samples, self.last_raw, self.offset_now, self.offset_since_ms, self.offset_before,
            self.offset_before_since_ms, self.life_start_ms, self.life_start_value,
            self.life_start_cumulative, self.life_start_count,
        )
        return self.tiers.nbytes() + sum(int(a.nbytes) for a in arrays)

    # -- building --------------------------------------------------------------------------

    def add(self, slots: I64, ts: I64, values: F64, increments: F64) -> None:
        """Add rows (slot, timestamp, raw value, reset-corrected increment) sorted by slot then
        time, each newer than its slot's newest; ``increments``: 0 for a series' first sample,
        the value after a drop (``slo.series.increase.series_increments``). Slots with one new
        row (a scrape tick) are added all at once, the others series by series."""
        if len(slots) == 0:
            return
        first_of_slot = np.concatenate([[True], slots[1:] != slots[:-1]])
        starts = np.flatnonzero(first_of_slot)
        ends = np.append(starts[1:], len(slots))
        one = (ends - starts == 1) & self.tiers.takes_one_point(slots[starts], ts[starts])
        if one.any():
            rows = starts[one]
            slot, time_ms, value = slots[rows], ts[rows], values[rows]
            previous_ts, previous_raw = self.tiers.last_ts[slot], self.last_raw[slot]
            previous_cumulative = self.tiers.last_value[slot]
            cumulative = previous_cumulative + increments[rows]  # as append_points computes it
            born = previous_ts == NO_TS
            reset = ~born & (value < previous_raw)
            gap = ~born & (time_ms - previous_ts > self.life_gap_ms)
            for k in np.flatnonzero(born | reset | gap).tolist():
                number = int(self.samples[slot[k]]) + 1
                self._mark(
                    int(slot[k]), int(time_ms[k]), float(value[k]), float(cumulative[k]), number,
                    int(previous_ts[k]), float(previous_cumulative[k]), bool(born[k]), bool(reset[k]), bool(gap[k]),
                )
            self.tiers.append_points(slot, time_ms, increments[rows])
            self.samples[slot] += 1
            self.last_raw[slot] = value
        for run in np.flatnonzero(~one).tolist():
            a, b = int(starts[run]), int(ends[run])
            self.add_series(int(slots[a]), ts[a:b], values[a:b], increments[a:b])

    def add_series(self, slot: int, ts: I64, values: F64, increments: F64) -> None:
        """Add one series' new rows (``add`` for a single slot, without the per-row arrays)."""
        if len(ts) == 0:
            return
        previous_ts, previous_raw = int(self.tiers.last_ts[slot]), float(self.last_raw[slot])
        base, count = float(self.tiers.last_value[slot]), int(self.samples[slot])
        born = previous_ts == NO_TS
        first_flagged = born or float(values[0]) < previous_raw or int(ts[0]) - previous_ts > self.life_gap_ms
        inner = np.flatnonzero((values[1:] < values[:-1]) | (np.diff(ts) > self.life_gap_ms)) + 1
        rows = ([0] if first_flagged else []) + inner.tolist()
        if rows:
            running = base + np.cumsum(increments) if len(rows) > 8 else None

            def cumulative(row: int) -> float:
                if running is not None:
                    return float(running[row])
                return base + float(increments[: row + 1].sum())

            for row in rows:
                before_ms = previous_ts if row == 0 else int(ts[row - 1])
                before_raw = previous_raw if row == 0 else float(values[row - 1])
                before_cumulative = base if row == 0 else cumulative(row - 1)
                is_born = born and row == 0
                self._mark(
                    slot, int(ts[row]), float(values[row]), cumulative(row), count + row + 1, before_ms,
                    before_cumulative, is_born, not is_born and float(values[row]) < before_raw,
                    not is_born and int(ts[row]) - before_ms > self.life_gap_ms,
                )
        self.tiers.append(slot, [(ts, increments)])
        self.samples[slot] += len(ts)
        self.last_raw[slot] = values[-1]

    def _mark(
        self, slot: int, time_ms: int, value: float, cumulative: float, count: int, previous_ts: int,
        previous_cumulative: float, born: bool, reset: bool, gap: bool,
    ) -> None:
        """Record a birth, a reset or a return after a gap at a sample (time, raw value, cumulative
        count, sample number; the sample before it: time, cumulative count)."""
        if born or reset:
            self.offset_before[slot] = self.offset_now[slot]
            self.offset_before_since_ms[slot] = self.offset_since_ms[slot]
            self.offset_now[slot] = cumulative - value
            self.offset_since_ms[slot] = time_ms
        if gap:
            lives = self.closed_lives.setdefault(slot, [])
            lives[:] = [life for life in lives if life.end_ms >= time_ms - self.keep_ms]  # beyond every window
            lives.append(Life(
                int(self.life_start_ms[slot]), float(self.life_start_value[slot]),
                float(self.life_start_cumulative[slot]), int(self.life_start_count[slot]),
                previous_ts, previous_cumulative, count - 1,
            ))
        if born or gap:
            self.life_start_ms[slot] = time_ms
            self.life_start_value[slot] = value
            self.life_start_cumulative[slot] = cumulative
            self.life_start_count[slot] = count

    # -- reading ---------------------------------------------------------------------------

    def values_at(self, slots: I64, t: I64) -> F64:
        """Each series' cumulative count at ``t`` (``CounterSides.values_at``: no extrapolation)."""
        return self.tiers.values_at(slots, t)

    def _offset_at(self, slots: I64, time_ms: I64) -> F64:
        """``cumulative − value`` of each series at ``time_ms`` (NaN when older than the last two resets)."""
        out: F64 = np.where(
            time_ms >= self.offset_since_ms[slots], self.offset_now[slots],
            np.where(time_ms >= self.offset_before_since_ms[slots], self.offset_before[slots], np.nan),
        )
        return out

    def _interpolated(self, slots: I64, start_ms: I64, floor_ms: I64, floor_cumulative: F64) -> F64:
        """The cumulative count at ``start_ms`` interpolated between the minute boundaries around it
        (the lower one raised to ``floor_ms`` with ``floor_cumulative``: a life's first sample)."""
        minute = start_ms // MINUTE_MS
        lower_ms = np.maximum(minute * MINUTE_MS, floor_ms)
        lower = np.where(
            minute * MINUTE_MS >= floor_ms, self.tiers.coarse.values(slots, minute), floor_cumulative
        )
        upper = self.tiers.coarse.values(slots, minute + 1)
        upper_ms = (minute + 1) * MINUTE_MS
        share = (start_ms - lower_ms) / np.maximum(upper_ms - lower_ms, 1)
        out: F64 = lower + (upper - lower) * share
        return out

    def increases(self, at_ms: int, windows_ms: I64) -> tuple[F64, Bools]:
        """Each series' Prometheus ``increase(x[W])`` at ``at_ms`` for every window (``n × windows``),
        and whether it has one (two samples or more in ``[at − W, at]``). Data after ``at_ms``
        is ignored."""
        n_windows = len(windows_ms)
        out = np.zeros((self.n, n_windows), dtype=np.float64)
        known_out = np.zeros((self.n, n_windows), dtype=np.bool_)
        tiers, fine = self.tiers, self.tiers.fine
        first_ts = tiers.first_ts[: self.n]
        live = np.flatnonzero((first_ts != NO_TS) & (first_ts <= at_ms))
        if len(live) == 0:
            return out, known_out
        at = np.full(len(live), at_ms, dtype=np.int64)
        points_to_at = fine.count_at_or_before(live, at)
        length = fine.length[live]
        end_slot = fine.slot(live, points_to_at - 1)
        end_ms = fine.times[end_slot]
        end_cumulative = fine.cumulative[end_slot]
        end_count = (self.samples[live] - (length - points_to_at)).astype(np.float64)
        # the fine tier answers from fine_from on: whatever it still holds, an answer does not
        # depend on when it was last trimmed
        fine_from = np.maximum(first_ts[live], tiers.last_ts[live] - tiers.fine_keep_ms)
        end_in_fine = (points_to_at > 0) & (at_ms >= fine_from)
        life_start = self.life_start_ms[live]
        past = np.flatnonzero(~end_in_fine & (at_ms > life_start))
        if len(past):  # before the fine tier, within the current life: the end interpolated
            sl = live[past]
            end_ms[past] = at_ms
            end_cumulative[past] = self._interpolated(
                sl, at[past], life_start[past], self.life_start_cumulative[sl]
            )
            life_count = self.life_start_count[sl].astype(np.float64)
            interval = (tiers.last_ts[sl] - life_start[past]) / np.maximum(self.samples[sl] - life_count, 1.0)
            end_count[past] = life_count + (at_ms - life_start[past]) / interval
        interpolated_end = np.zeros(len(live), dtype=np.bool_)
        interpolated_end[past] = True

        row = np.repeat(np.arange(len(live)), n_windows)
        slot = live[row]
        window_ms = np.tile(windows_ms, len(live))
        start_ms = at_ms - window_ms
        increase = np.zeros(len(row), dtype=np.float64)
        known = np.zeros(len(row), dtype=np.bool_)

        fine_holds = end_in_fine[row] & ((fine_from[row] <= start_ms) | (fine_from[row] == first_ts[slot]))
        in_fine = (window_ms <= self.fine_span_ms) & fine_holds
        # -- windows the fine tier holds: Prometheus on the exact samples
        q = np.flatnonzero(in_fine)
        if len(q):
            first_in = fine.count_at_or_before(slot[q], start_ms[q], inclusive=False)
            samples = points_to_at[row[q]] - first_in
            ok = samples >= 2
            q, first_in, samples = q[ok], first_in[ok], samples[ok]
            first_slot = fine.slot(slot[q], first_in)
            first_ms = fine.times[first_slot]
            first_cumulative = fine.cumulative[first_slot]
            first_value = first_cumulative - self._offset_at(slot[q], first_ms)
            increase[q] = prometheus_increases(
                end_cumulative[row[q]] - first_cumulative, first_ms, end_ms[row[q]], samples, first_value,
                start_ms[q], at_ms,
            )
            known[q] = True
        # -- longer windows: exact end, the start from the lives and the minute ring
        answerable = end_in_fine | interpolated_end
        q = np.flatnonzero(~in_fine & answerable[row])
        if len(q):
            self._long_windows(q, slot, row, start_ms, end_ms, end_cumulative, end_count, at_ms, increase, known)
        # -- an evaluation before the series' current life began (far in the past, rare): the
        # minute ring's difference, not extrapolated
        q = np.flatnonzero(~answerable[row])
        if len(q):
            increase[q] = tiers.values_at(slot[q], np.full(len(q), at_ms, dtype=np.int64)) - tiers.values_at(
                slot[q], start_ms[q]
            )
            known[q] = True
        out[live] = increase.reshape(len(live), n_windows)
        known_out[live] = known.reshape(len(live), n_windows)
        return out, known_out

    def _long_windows(
        self, q: I64, slot: I64, row: I64, start_ms: I64, end_ms: I64, end_cumulative: F64, end_count: F64,
        at_ms: int, increase: F64, known: Bools,
    ) -> None:
        """Fill ``increase``/``known`` at queries ``q`` whose window start lies in the minute ring."""
        s = slot[q]
        window_start = start_ms[q]
        last_ms, last_cumulative, last_count = end_ms[row[q]], end_cumulative[row[q]], end_count[row[q]]
        # the life holding or following the start: the current one, unless closed lives say otherwise
        life_start = self.life_start_ms[s].copy()
        life_value = self.life_start_value[s].copy()
        life_cumulative = self.life_start_cumulative[s].copy()
        life_count = self.life_start_count[s].astype(np.float64)
        life_end = np.full(len(q), np.iinfo(np.int64).max, dtype=np.int64)  # the current life: no end yet
        life_end_count = self.samples[s].astype(np.float64)
        life_end_ms = self.tiers.last_ts[s].copy()
        if self.closed_lives:
            for j in np.flatnonzero(np.isin(s, list(self.closed_lives))).tolist():
                for life in self.closed_lives[int(s[j])]:
                    if window_start[j] <= life.end_ms:
                        life_start[j], life_value[j] = life.start_ms, life.start_value
                        life_cumulative[j], life_count[j] = life.start_cumulative, float(life.start_count)
                        life_end[j] = life.end_ms
                        life_end_ms[j], life_end_count[j] = life.end_ms, float(life.end_count)
                        break
        inside = (window_start > life_start) & (window_start <= life_end) & (window_start <= life_end_ms)
        first_ms = np.where(inside, window_start, life_start)
        interval = np.where(
            life_end_count > life_count, (life_end_ms - life_start) / np.maximum(life_end_count - life_count, 1.0),
            np.inf,
        )
        first_count = np.where(inside, life_count + (window_start - life_start) / interval, life_count)
        first_cumulative = life_cumulative.copy()
        if inside.any():
            k = np.flatnonzero(inside)
            first_cumulative[k] = self._interpolated(s[k], window_start[k], life_start[k], life_cumulative[k])
        samples = last_count - first_count + 1.0
        ok = (samples >= 2.0) & (last_ms > first_ms) & (first_ms >= window_start)
        if not ok.any():
            return
        k = np.flatnonzero(ok)
        first_value = np.where(inside, np.nan, life_value)[k]
        increase[q[k]] = prometheus_increases(
            last_cumulative[k] - first_cumulative[k], first_ms[k], last_ms[k], samples[k], first_value,
            window_start[k], at_ms,
        )
        known[q[k]] = True
        # A start inside a life: Prometheus extends the window's first sample back to the start at
        # the window's mean rate. The same from the first minute boundary u at or after the start:
        # increase = (C_n − C(u)) × (τ_n − start + end extension) / (τ_n − u).
        boundary = -(-window_start // MINUTE_MS) * MINUTE_MS
        k = np.flatnonzero(ok & inside & (boundary < last_ms))
        if len(k):
            avg_interval = (last_ms[k] - window_start[k]) / (samples[k] - 1.0)
            to_end = at_ms - last_ms[k]
            end_extension = np.where(to_end < 1.1 * avg_interval, to_end, avg_interval / 2)
            from_boundary = last_cumulative[k] - self.tiers.coarse.values(s[k], boundary[k] // MINUTE_MS)
            increase[q[k]] = from_boundary * (
                (last_ms[k] - window_start[k] + end_extension) / (last_ms[k] - boundary[k])
            )
