"""Reset-corrected cumulative counts, so that a window's increase is two lookups, not a rescan.

One ``CounterAggregate`` holds one *side* of an objective (its errors, good or total events):
the sum over the side's series of each series' reset-corrected increase since its first
sample. A series present from the start therefore contributes only its increase, and a drop
in a series' value is a reset (the new value is all increase).

Two tiers, chosen for memory (1,000 objectives × 30 days must fit comfortably):

- **fine**: every distinct scrape timestamp of the side (int64 ms, float64 cumulative) for the
  last ``fine_keep_ms`` (default 7 h, enough for the 6 h burn window and an hour of ``--at``).
  Windows up to ``fine_span_ms`` use Prometheus 2.42's extrapolation on this aggregate, so
  error ratios match ``sum(rate(errors[W])) / sum(rate(total[W]))``. At 15 s scrapes this is
  1,680 points, 27 kB per side.
- **coarse**: the cumulative value at every minute boundary (value of the latest sample at or
  before it) for the objective window plus a margin. Stored as float32 offsets from a float64
  anchor per hour (4.1 bytes a minute, 178 kB per side for 30 days) — float32 alone would lose
  small error counts under large totals, float64 would double the memory. Long windows read
  it with at most one minute of edge error (< 0.07% of a day).

``FreshnessSlices`` keeps, for a freshness objective, the cumulative count of good time slices.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from slo.counters import extrapolate_increase

__all__ = ["CounterAggregate", "FreshnessSlices", "series_increments"]

MINUTE_MS = 60_000
_HOUR_MINUTES = 60

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def series_increments(first_in_batch: npt.NDArray[np.bool_], values: F64, previous: F64) -> F64:
    """Per-sample reset-corrected increase of rows sorted by (series, timestamp).

    ``first_in_batch`` marks each series' first row of the batch; ``previous[i]`` is, for such a
    row, the series' last value ingested before (NaN for a new series, whose first sample
    contributes nothing). A value below its predecessor is a reset: the increase is the value.
    """
    prev = np.empty_like(values)
    prev[1:] = values[:-1]
    prev[first_in_batch] = previous[first_in_batch]
    inc = np.where(values >= prev, values - prev, values)
    inc[np.isnan(prev)] = 0.0
    return inc


class _MinuteTier:
    """Cumulative values at minute boundaries: float32 offsets from a float64 anchor per hour."""

    def __init__(self, first_minute: int) -> None:
        self.k0 = first_minute
        self.n = 0
        self._rel = np.empty(0, dtype=np.float32)
        self._anchor = np.empty(0, dtype=np.float64)

    @property
    def last_minute(self) -> int:
        return self.k0 + self.n - 1

    def nbytes(self) -> int:
        return int(self._rel.nbytes + self._anchor.nbytes)

    def extend(self, values: F64) -> None:
        """Append the values of the next ``len(values)`` minutes."""
        m = len(values)
        if m == 0:
            return
        n_new = self.n + m
        hours_new = (n_new + _HOUR_MINUTES - 1) // _HOUR_MINUTES
        hours_old = (self.n + _HOUR_MINUTES - 1) // _HOUR_MINUTES
        if n_new > len(self._rel):
            grown = np.empty(max(n_new, 2 * len(self._rel), 64), dtype=np.float32)
            grown[: self.n] = self._rel[: self.n]
            self._rel = grown
        if hours_new > len(self._anchor):
            grown_a = np.empty(max(hours_new, 2 * len(self._anchor), 4), dtype=np.float64)
            grown_a[:hours_old] = self._anchor[:hours_old]
            self._anchor = grown_a
        if hours_new > hours_old:
            starts = np.arange(hours_old, hours_new) * _HOUR_MINUTES - self.n
            self._anchor[hours_old:hours_new] = values[starts]
        idx = np.arange(self.n, n_new)
        self._rel[self.n : n_new] = values - self._anchor[idx // _HOUR_MINUTES]
        self.n = n_new

    def value(self, minute: int) -> float:
        i = minute - self.k0
        return float(self._anchor[i // _HOUR_MINUTES]) + float(self._rel[i])

    def add_from(self, minute: int, delta: float) -> None:
        """Add ``delta`` to every stored minute from ``minute`` on (a late sample)."""
        i = max(minute - self.k0, 0)
        if i >= self.n:
            return
        j = i // _HOUR_MINUTES
        hours = (self.n + _HOUR_MINUTES - 1) // _HOUR_MINUTES
        self._anchor[j + 1 : hours] += delta
        self._rel[i : min((j + 1) * _HOUR_MINUTES, self.n)] += np.float32(delta)

    def trim(self, keep_minutes: int) -> None:
        """Drop whole hours older than the last ``keep_minutes`` minutes."""
        drop_hours = (self.n - keep_minutes) // _HOUR_MINUTES - 1
        if drop_hours < 24:  # amortise: trim a day at a time
            return
        cut = drop_hours * _HOUR_MINUTES
        hours = (self.n + _HOUR_MINUTES - 1) // _HOUR_MINUTES
        self._rel = self._rel[cut : self.n].copy()
        self._anchor = self._anchor[drop_hours:hours].copy()
        self.k0 += cut
        self.n -= cut


class CounterAggregate:
    """One side's reset-corrected cumulative count (see the module docstring for the tiers)."""

    def __init__(
        self,
        *,
        fine_span_ms: int = 6 * 3_600_000,
        fine_keep_ms: int = 7 * 3_600_000,
        coarse_keep_minutes: int = 31 * 1440,
    ) -> None:
        if fine_keep_ms < fine_span_ms:
            raise ValueError("fine_keep_ms must be at least fine_span_ms")
        self.fine_span_ms = fine_span_ms
        self.fine_keep_ms = fine_keep_ms
        self.coarse_keep_minutes = coarse_keep_minutes
        self._ts: I64 = np.empty(0, dtype=np.int64)
        self._cum: F64 = np.empty(0, dtype=np.float64)
        self._coarse: _MinuteTier | None = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.last_value = 0.0

    def nbytes(self) -> int:
        """Bytes held by the two tiers' arrays."""
        coarse = self._coarse.nbytes() if self._coarse is not None else 0
        return int(self._ts.nbytes + self._cum.nbytes + coarse)

    # -- building --------------------------------------------------------------------------

    def add(self, ts: I64, inc: F64) -> None:
        """Add increments at timestamps (any order; several per timestamp are summed)."""
        if len(ts) == 0:
            return
        order = np.argsort(ts, kind="stable")
        ts_sorted = ts[order]
        cum = np.cumsum(inc[order])
        keep = np.empty(len(ts_sorted), dtype=np.bool_)
        keep[-1] = True
        keep[:-1] = ts_sorted[1:] != ts_sorted[:-1]
        ts_u = ts_sorted[keep]
        step_u = np.diff(cum[keep], prepend=0.0)
        if self.last_ts is None or int(ts_u[0]) > self.last_ts:
            self._append(ts_u, np.cumsum(step_u) + self.last_value)
        else:
            self._merge(ts_u, step_u)
        self._trim()

    def _append(self, ts_u: I64, cum_u: F64) -> None:
        if self.first_ts is None:
            self.first_ts = int(ts_u[0])
            self._coarse = _MinuteTier(self.first_ts // MINUTE_MS)
        assert self._coarse is not None
        prev_value = self.last_value
        self._ts = np.concatenate([self._ts, ts_u])
        self._cum = np.concatenate([self._cum, cum_u])
        self.last_ts = int(ts_u[-1])
        self.last_value = float(cum_u[-1])
        k_from = self._coarse.last_minute + 1
        k_to = self.last_ts // MINUTE_MS
        if k_to >= k_from:
            grid = np.arange(k_from, k_to + 1, dtype=np.int64) * MINUTE_MS
            idx = np.searchsorted(ts_u, grid, side="right") - 1
            values = np.where(idx >= 0, cum_u[np.maximum(idx, 0)], prev_value)
            if self._coarse.n == 0:
                values[grid < self.first_ts] = 0.0
            self._coarse.extend(values)

    def _merge(self, ts_u: I64, step_u: F64) -> None:
        """Late points (not newer than the newest): fold them into both tiers, one by one (rare)."""
        assert self._coarse is not None and self.first_ts is not None and self.last_ts is not None
        for t, d in zip(ts_u.tolist(), step_u.tolist(), strict=True):
            pos = int(np.searchsorted(self._ts, t, side="left"))
            exact = pos < len(self._ts) and int(self._ts[pos]) == t
            older_than_fine = pos == 0 and len(self._ts) > 0 and int(self._ts[0]) > self.first_ts
            if not exact and not older_than_fine:
                before = float(self._cum[pos - 1]) if pos > 0 else 0.0
                self._ts = np.insert(self._ts, pos, t)
                self._cum = np.insert(self._cum, pos, before)
            self._cum[pos:] += d
            self._coarse.add_from(-(-t // MINUTE_MS), d)
            self.first_ts = min(self.first_ts, t)
            self.last_ts = max(self.last_ts, t)
        self.last_value = float(self._cum[-1])

    def _trim(self) -> None:
        assert self.last_ts is not None and self._coarse is not None
        cut = int(np.searchsorted(self._ts, self.last_ts - self.fine_keep_ms, side="left")) - 1
        if cut > 0 and cut * 8 >= len(self._ts):  # amortise the copy
            self._ts = self._ts[cut:].copy()
            self._cum = self._cum[cut:].copy()
        self._coarse.trim(self.coarse_keep_minutes)

    # -- reading ---------------------------------------------------------------------------

    def _fine_from(self) -> int:
        """Earliest time the fine tier is guaranteed to describe exactly."""
        assert self.last_ts is not None and self.first_ts is not None
        return max(self.first_ts, self.last_ts - self.fine_keep_ms) if self._trimmed() else self.first_ts

    def _trimmed(self) -> bool:
        assert self.last_ts is not None and self.first_ts is not None
        return self.last_ts - self.first_ts > self.fine_keep_ms

    def value_at(self, t_ms: int) -> float:
        """The cumulative count as of ``t_ms`` (latest sample at or before it; 0 before any)."""
        if self.first_ts is None or t_ms < self.first_ts:
            return 0.0
        assert self._coarse is not None
        if t_ms >= self._fine_from():
            i = int(np.searchsorted(self._ts, t_ms, side="right")) - 1
            return float(self._cum[i]) if i >= 0 else 0.0
        minute = t_ms // MINUTE_MS
        if minute < self._coarse.k0:
            return self._coarse.value(self._coarse.k0)
        return self._coarse.value(min(minute, self._coarse.last_minute))

    def increases(self, at_ms: int, windows_ms: list[int]) -> list[float | None]:
        """The increase over each window ``[at - W, at]``; ``None`` where it cannot be known.

        Windows up to ``fine_span_ms`` whose start lies in the fine tier follow Prometheus
        2.42 (two samples needed, extrapolation to the edges, no zero-start limit on an
        aggregate); longer ones are ``value(at) - value(at - W)``. Data after ``at_ms`` is ignored.
        """
        if self.first_ts is None or at_ms < self.first_ts:
            return [None] * len(windows_ms)
        fine_from = self._fine_from()
        starts = [at_ms - w for w in windows_ms]
        lo_all = np.searchsorted(self._ts, starts, side="left").tolist()
        hi = int(np.searchsorted(self._ts, at_ms, side="right"))
        out: list[float | None] = []
        at_value: float | None = None
        for w, start, lo in zip(windows_ms, starts, lo_all, strict=True):
            if w <= self.fine_span_ms and start >= fine_from:
                n = hi - lo
                if n < 2:
                    out.append(None)
                    continue
                raw = float(self._cum[hi - 1] - self._cum[lo])
                first, last = int(self._ts[lo]), int(self._ts[hi - 1])
                out.append(extrapolate_increase(raw, first, last, n, start, at_ms))
            else:
                if at_value is None:
                    at_value = self.value_at(at_ms)
                out.append(at_value - self.value_at(start))
        return out


class FreshnessSlices:
    """Cumulative count of good time slices for one freshness objective.

    Slice ``k`` covers ``(k-1)·S, k·S]``; its data age is ``k·S − v`` where ``v`` (Unix seconds)
    is the value of the latest sample at or before the slice end (the minimum over series,
    i.e. the oldest). A slice counts once data exists at its end; it is good when the age is
    at most ``max_age``. Slices are final once a sample at or after their end has arrived;
    slices after the newest sample are counted at evaluation from the newest value.
    """

    def __init__(self, max_age_s: float, slice_s: float, keep_slices: int) -> None:
        self.max_age_ms = round(max_age_s * 1000)
        self.slice_ms = round(slice_s * 1000)
        self.keep_slices = keep_slices
        self.k0: int | None = None  # first slice with data
        self._base = 0  # slice index of _cum_good[0]
        self._cum_good = np.empty(0, dtype=np.int32)  # good slices from k0 through _base + i
        self._good_before_base = 0
        self.k_final = -1
        self.last_ts: int | None = None
        self.last_value = math.nan

    def nbytes(self) -> int:
        """Bytes held by the slice counts."""
        return int(self._cum_good.nbytes)

    def add_steps(self, ts_u: I64, values_u: F64) -> None:
        """Append the min-over-series value at new, ascending timestamps (after ``last_ts``)."""
        if len(ts_u) == 0:
            return
        if self.k0 is None:
            self.k0 = -(-int(ts_u[0]) // self.slice_ms)
            self._base = self.k0
            self.k_final = self.k0 - 1
        k_to = int(ts_u[-1]) // self.slice_ms
        if k_to > self.k_final:
            ks = np.arange(self.k_final + 1, k_to + 1, dtype=np.int64)
            ends = ks * self.slice_ms
            idx = np.searchsorted(ts_u, ends, side="right") - 1
            v = np.where(idx >= 0, values_u[np.maximum(idx, 0)], self.last_value)
            good = (ends - v * 1000.0) <= self.max_age_ms
            prev = int(self._cum_good[-1]) if len(self._cum_good) else self._good_before_base
            cum = prev + np.cumsum(good, dtype=np.int64)
            self._cum_good = np.concatenate([self._cum_good, cum.astype(np.int32)])
            self.k_final = k_to
        self.last_ts = int(ts_u[-1])
        self.last_value = float(values_u[-1])
        excess = len(self._cum_good) - self.keep_slices
        if excess > self.keep_slices // 30 + 1:
            self._good_before_base = int(self._cum_good[excess - 1])
            self._cum_good = self._cum_good[excess:].copy()
            self._base += excess

    def _good_through(self, k: int) -> int:
        """Good slices from the retained start through slice ``k`` (finalised slices only)."""
        i = k - self._base
        return int(self._cum_good[i]) if i >= 0 else self._good_before_base

    def count(self, at_ms: int, window_ms: int) -> tuple[int, int]:
        """(good, counted) slices whose end lies in ``(at - W, at]``."""
        if self.k0 is None or self.last_ts is None:
            return 0, 0
        k_hi = at_ms // self.slice_ms
        k_lo = max((at_ms - window_ms) // self.slice_ms + 1, self.k0, self._base)
        if k_hi < k_lo:
            return 0, 0
        counted = k_hi - k_lo + 1
        fin_hi = min(k_hi, self.k_final)
        good = 0
        if fin_hi >= k_lo:
            good = self._good_through(fin_hi) - self._good_through(k_lo - 1)
        if k_hi > self.k_final and not math.isnan(self.last_value):
            first = max(self.k_final + 1, k_lo)
            last_good = math.floor((self.last_value * 1000.0 + self.max_age_ms) / self.slice_ms)
            good += max(0, min(k_hi, last_good) - first + 1)
        return good, counted
