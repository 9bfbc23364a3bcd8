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

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["extrapolate_increase", "extrapolate_increases", "increase", "rate"]


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

    ``first_value`` enables the zero-start limit (pass ``None`` to skip it, as for an aggregate
    of several series whose summed level means nothing). ``samples`` must be >= 2 and the
    first and last timestamps distinct.
    """
    sampled_s = (last_ms - first_ms) / 1000.0
    avg_s = sampled_s / (samples - 1)
    to_start_s = (first_ms - range_start_ms) / 1000.0
    to_end_s = (range_end_ms - last_ms) / 1000.0
    if first_value is not None and raw_increase > 0 and first_value >= 0:
        to_zero_s = sampled_s * (first_value / raw_increase)
        to_start_s = min(to_start_s, to_zero_s)
    threshold_s = avg_s * 1.1
    extended_s = sampled_s
    extended_s += to_start_s if to_start_s < threshold_s else avg_s / 2
    extended_s += to_end_s if to_end_s < threshold_s else avg_s / 2
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
    """``extrapolate_increase`` over arrays (no zero-start limit, as for an aggregate).

    Same operations in the same order as the scalar version, so the results are identical.
    Every entry must have ``samples >= 2`` and distinct first and last timestamps.
    """
    sampled_s = (last_ms - first_ms) / 1000.0
    avg_s = sampled_s / (samples - 1)
    to_start_s = (first_ms - range_start_ms) / 1000.0
    to_end_s = (range_end_ms - last_ms) / 1000.0
    threshold_s = avg_s * 1.1
    half_s = avg_s / 2
    extended_s = sampled_s + np.where(to_start_s < threshold_s, to_start_s, half_s)
    extended_s = extended_s + np.where(to_end_s < threshold_s, to_end_s, half_s)
    out: npt.NDArray[np.float64] = raw * (extended_s / sampled_s)
    return out
