"""Counter increases with Prometheus 2.x ``increase()``/``rate()`` semantics.

The reference is Prometheus 2.42 ``promql/functions.go`` ``extrapolatedRate``:

- the window is ``[t - W, t]``: 2.x includes a sample exactly at ``t - W`` (3.x does not);
- at least two samples, else no result (``None`` here);
- a drop in value is a counter reset: the value before the drop is added to the increase;
- extrapolation: with ``avg`` the mean spacing of the samples, a gap to a window edge shorter
  than ``1.1 × avg`` is extrapolated all the way to the edge, a longer one by ``avg / 2``;
- counters never extrapolate below zero: when the increase is positive and the first value is
  ``>= 0``, the gap to the start is first limited to ``sampled_interval × first / increase``.
  In 2.42 that limit is applied *before* the ``1.1 × avg`` test (later releases, after
  prometheus/prometheus#13725, apply it after); we follow 2.42, the reference we test against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "extrapolate_increase",
    "extrapolate_increases",
    "increase",
    "increases_at_steps",
    "increments",
    "prometheus_increases",
    "rate",
    "series_increments",
    "window_indexes",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

MINUTE_MS = 60_000


def extrapolate_increase(
    raw_increase: float,
    first_ms: int,
    last_ms: int,
    samples: int,
    range_start_ms: int,
    range_end_ms: int,
    first_value: float | None = None,
) -> float:
    """Extrapolate a counter's raw increase between its first and last sample to the window edges.

    ``increase = raw_increase × extended_s / sampled_s`` where ``sampled_s = last − first``,
    ``avg_interval_s = sampled_s / (samples − 1)``, and ``extended_s = sampled_s`` plus, at each
    edge, the gap to it when shorter than ``1.1 × avg_interval_s``, else ``avg_interval_s / 2``.

    ``first_value`` enables the zero-start limit (pass ``None`` to skip it, as for an aggregate
    of several series whose summed level means nothing). ``samples`` must be >= 2 and the
    first and last timestamps distinct.
    """
    sampled_s = (last_ms - first_ms) / 1000.0
    avg_interval_s = sampled_s / (samples - 1)
    to_start_s = (first_ms - range_start_ms) / 1000.0
    to_end_s = (range_end_ms - last_ms) / 1000.0
    if first_value is not None and raw_increase > 0 and first_value >= 0:
        to_zero_s = sampled_s * (first_value / raw_increase)
        to_start_s = min(to_start_s, to_zero_s)
    threshold_s = avg_interval_s * 1.1
    extended_s = sampled_s
    extended_s += to_start_s if to_start_s < threshold_s else avg_interval_s / 2
    extended_s += to_end_s if to_end_s < threshold_s else avg_interval_s / 2
    return raw_increase * (extended_s / sampled_s)


def increase(
    timestamps_ms: Sequence[int] | npt.NDArray[np.int64],
    values: Sequence[float] | npt.NDArray[np.float64],
    at_ms: int,
    window_ms: int,
) -> float | None:
    """Prometheus 2.42 ``increase(x[W])`` evaluated at ``at_ms`` for one series.

    ``timestamps_ms`` must be ascending. Returns ``None`` when the window ``[at - W, at]``
    holds fewer than two samples.
    """
    ts = np.asarray(timestamps_ms, dtype=np.int64)
    vs = np.asarray(values, dtype=np.float64)
    if ts.shape != vs.shape:
        raise ValueError(f"timestamps ({ts.shape[0]}) and values ({vs.shape[0]}) differ in length")
    start = at_ms - window_ms
    lo = int(np.searchsorted(ts, start, side="left"))
    hi = int(np.searchsorted(ts, at_ms, side="right"))
    if hi - lo < 2:
        return None
    window = vs[lo:hi]
    drops = window[1:] < window[:-1]
    raw = float(window[-1] - window[0]) + float(window[:-1][drops].sum())
    return extrapolate_increase(
        raw, int(ts[lo]), int(ts[hi - 1]), hi - lo, start, at_ms, first_value=float(window[0])
    )


def rate(
    timestamps_ms: Sequence[int] | npt.NDArray[np.int64],
    values: Sequence[float] | npt.NDArray[np.float64],
    at_ms: int,
    window_ms: int,
) -> float | None:
    """Prometheus 2.42 ``rate(x[W])``: the increase per second of the window."""
    inc = increase(timestamps_ms, values, at_ms, window_ms)
    return None if inc is None else inc / (window_ms / 1000.0)


def extrapolate_increases(
    raw: npt.NDArray[np.float64],
    first_ms: npt.NDArray[np.int64],
    last_ms: npt.NDArray[np.int64],
    samples: npt.NDArray[np.int64],
    range_start_ms: npt.NDArray[np.int64],
    range_end_ms: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """``extrapolate_increase`` over arrays without the zero-start limit (``prometheus_increases``
    with no first values). Every entry must have ``samples >= 2`` and distinct first and last
    timestamps."""
    return prometheus_increases(
        raw, first_ms, last_ms, samples, np.full(len(raw), np.nan), range_start_ms, range_end_ms
    )


def prometheus_increases(
    raw: F64, first_ms: I64, last_ms: I64, samples: I64 | F64, first_value: F64, range_start_ms: I64,
    range_end_ms: I64 | int,
) -> F64:
    """``extrapolate_increase`` over arrays, one entry per (series, window): the same operations
    in the same order as the scalar version, so the results are identical.

    ``first_value`` NaN skips the zero-start limit (as ``first_value=None`` does); ``samples``
    may be an estimate (a float). Every entry must have ``samples >= 2`` and distinct first and
    last timestamps.
    """
    sampled_s = (last_ms - first_ms) / 1000.0
    avg_interval_s = sampled_s / (samples - 1)
    to_start_s = (first_ms - range_start_ms) / 1000.0
    to_end_s = (range_end_ms - last_ms) / 1000.0
    floor = (raw > 0) & (first_value >= 0)  # False where first_value is NaN
    if floor.any():
        to_zero_s = sampled_s * np.divide(first_value, raw, out=np.full(len(raw), np.inf), where=floor)
        to_start_s = np.where(floor, np.minimum(to_start_s, to_zero_s), to_start_s)
    threshold_s = avg_interval_s * 1.1
    half_s = avg_interval_s / 2
    extended_s = sampled_s + np.where(to_start_s < threshold_s, to_start_s, half_s)
    extended_s = extended_s + np.where(to_end_s < threshold_s, to_end_s, half_s)
    out: F64 = raw * (extended_s / sampled_s)
    return out


def series_increments(first_in_batch: Bools, values: F64, previous: F64) -> F64:
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


def increments(val: F64, prev: float) -> F64:
    """Reset-corrected increase of each of a series' new values (the first against ``prev``, the
    last value ingested before; nothing when ``prev`` is NaN, a new series)."""
    inc = np.empty_like(val)
    if len(val) > 1:  # the step; a drop is a reset, where the increase is the value
        np.subtract(val[1:], val[:-1], out=inc[1:])
        drops = np.flatnonzero(inc[1:] < 0) + 1
        inc[drops] = val[drops]
    v0 = float(val[0])
    inc[0] = 0.0 if math.isnan(prev) else (v0 - prev if v0 >= prev else v0)
    return inc


def window_indexes(ts: I64, at_steps_ms: I64, window_ms: int) -> tuple[I64, I64]:
    """For each ``at``: the index of the first sample at or after ``at − W`` and the number of
    samples at or before ``at`` (``ts`` ascending) — the window's samples are ``[first, end)``."""
    first_in = np.searchsorted(ts, at_steps_ms - window_ms, side="left")
    after_at = np.searchsorted(ts, at_steps_ms, side="right")
    return first_in, after_at


def increases_at_steps(
    ts: I64, cumulative: F64, values: F64, at_steps_ms: I64, window_ms: int,
    indexes: tuple[I64, I64] | None = None,
) -> tuple[F64, Bools]:
    """One series' Prometheus 2.42 ``increase(x[W])`` at every ``at`` of ``at_steps_ms``, and
    whether it has one (two samples or more in ``[at − W, at]``), from all its samples: their
    timestamps ``ts``, reset-corrected cumulative count ``cumulative`` (0 at the first sample)
    and raw ``values`` (for the zero-start limit). Unknown entries are 0. ``indexes``:
    ``window_indexes(ts, at_steps_ms, window_ms)`` when already known (series scraped together
    share them)."""
    n_steps = len(at_steps_ms)
    increase = np.zeros(n_steps, dtype=np.float64)
    window_start_ms = at_steps_ms - window_ms
    first_in, after_at = window_indexes(ts, at_steps_ms, window_ms) if indexes is None else indexes
    samples = after_at - first_in
    known = samples >= 2
    sel = np.flatnonzero(known)
    if len(sel):
        i_first, i_last = first_in[sel], after_at[sel] - 1
        increase[sel] = prometheus_increases(
            cumulative[i_last] - cumulative[i_first], ts[i_first], ts[i_last], samples[sel], values[i_first],
            window_start_ms[sel], at_steps_ms[sel],
        )
    return increase, known
