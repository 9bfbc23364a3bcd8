"""Counter *sides* of ratio and latency objectives: what a side selects, and adding new rows to
``slo.series.cumulative.CounterSides`` — all sides at once for a tick, side by side otherwise.

A side is the events selected by one selector (and, for a histogram, one ``le`` bound), shared
by every objective that reads it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from redline.kernel.labels import Selector, parse_labels
from redline.kernel.units import format_duration
from redline.slo.series.batches import Batch
from redline.slo.series.cumulative import NO_TS, CounterSides, sum_per_side_and_time
from redline.slo.series.increase import increments
from redline.slo.series.rows import csr_rows
from redline.slo.spec import LatencySLI

__all__ = ["Side", "histogram_problems", "ingest_sides", "ingest_sides_at_once", "le_value"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def le_value(labels: dict[str, str]) -> float | None:
    """The ``le`` bound of a bucket series' labels (None: absent or not a number)."""
    raw = labels.get("le")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def same_bound(a: float, b: float) -> bool:
    """Whether two bucket bounds are the same number (``0.25`` and ``0.250``; float noise)."""
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


@dataclass
class Side:
    """Events selected by one selector (and, for a histogram, one ``le`` bound)."""

    selector: Selector
    le: float | None
    members: list[int] = field(default_factory=list)

    def selects(self, metric: str, labels: dict[str, str]) -> bool:
        """Whether the series (metric, parsed labels) counts toward this side."""
        if not self.selector.matches(metric, labels):
            return False
        if self.le is None:
            return True
        le = le_value(labels)
        return le is not None and same_bound(le, self.le)


def ingest_sides_at_once(counters: CounterSides, csr: tuple[I64, I64], sid: I64, ts: I64, inc: F64) -> set[int]:
    """Add every side that gets exactly one new timestamp (the usual tick) in one go, from the rows
    (series, timestamp, increment) sorted by series and time; ``csr``: series → sides.

    Returns the sides left for ``ingest_sides``: several new timestamps, late points, or more
    than an hour since their newest point.
    """
    ptr, side_ids = csr
    rep, entry = csr_rows(ptr, sid)
    if len(rep) == 0:
        return set()
    point_side, point_time, step, first_point = sum_per_side_and_time(side_ids[entry], ts[rep], inc[rep])
    points = np.diff(np.append(first_point, len(point_side)))
    side, time_ms, first_step = point_side[first_point], point_time[first_point], step[first_point]
    ok = (points == 1) & counters.takes_one_point(side, time_ms)
    counters.append_points(side[ok], time_ms[ok], first_step[ok])
    return set(side[~ok].tolist())


def ingest_sides(
    counters: CounterSides, series_sides: Sequence[list[int]], batches: Mapping[int, Batch], last_val: F64,
    only: set[int] | None = None,
) -> None:
    """Add the new rows to their sides, side by side (``only`` these sides when given);
    ``last_val``: each series' value before the batch."""
    touched: dict[int, list[int]] = {}
    if only is not None and not only:
        return
    for sid in batches:
        for s in series_sides[sid]:
            if only is None or s in only:
                touched.setdefault(s, []).append(sid)
    uses: dict[int, int] = {}
    for sids in touched.values():
        for sid in sids:
            uses[sid] = uses.get(sid, 0) + 1
    computed: dict[int, F64] = {}  # increments computed on demand, dropped after their last use
    side_last = counters.last_ts
    for s, sids in touched.items():
        last = int(side_last[s])
        parts: list[tuple[I64, F64]] = []
        late_t: list[I64] = []
        late_i: list[F64] = []
        for sid in sids:
            ts, val, given = batches[sid]
            inc = given if given is not None else computed.get(sid)
            if inc is None:
                inc = increments(val, float(last_val[sid]))
            uses[sid] -= 1
            if given is None:
                if uses[sid]:
                    computed[sid] = inc
                else:
                    computed.pop(sid, None)
            if last != NO_TS and int(ts[0]) <= last:
                j = int(np.searchsorted(ts, last, side="right"))
                late_t.append(ts[:j])
                late_i.append(inc[:j])
                ts, inc = ts[j:], inc[j:]
            parts.append((ts, inc))
        if late_t:
            counters.merge_late_parts(s, late_t, late_i)
        counters.append(s, parts)


def _fmt_bound(bound: float | None) -> str:
    if bound is None:
        return "none"
    if math.isinf(bound):
        return "+Inf"
    return f"{bound:g}s"


def histogram_problems(name: str, lat: LatencySLI, pairs: list[tuple[str, str]]) -> list[str]:
    """A latency objective's histogram without ``le="+Inf"``, or whose bounds miss the threshold
    (naming the nearest bounds); ``pairs``: the stored (metric, labels) series."""
    bucket_sel = lat.histogram.with_metric(lat.histogram.metric + "_bucket")
    bounds: set[float] = set()
    for _metric, labels in bucket_sel.matching_series(pairs):
        le = le_value(parse_labels(labels))
        if le is not None:
            bounds.add(le)
    if not bounds:
        return []
    problems: list[str] = []
    finite = [b for b in bounds if math.isfinite(b)]
    if lat.interpolate and finite and lat.threshold > max(finite):
        problems.append(
            f"objective {name!r}: latency threshold {format_duration(lat.threshold)} is above the largest "
            f"finite bucket bound of {bucket_sel} ({_fmt_bound(max(finite))}): it cannot be interpolated"
        )
    if math.inf not in bounds:
        problems.append(
            f"objective {name!r}: histogram {bucket_sel} has no le=\"+Inf\" bucket, so its total count is unknown"
        )
    if not lat.interpolate and not any(same_bound(b, lat.threshold) for b in bounds):
        lower = max((b for b in bounds if b < lat.threshold), default=None)
        upper = min((b for b in bounds if b > lat.threshold), default=None)
        problems.append(
            f"objective {name!r}: latency threshold {format_duration(lat.threshold)} "
            f"({lat.threshold:g}s) is not a bucket bound of {bucket_sel}; nearest bounds: "
            f"lower {_fmt_bound(lower)}, upper {_fmt_bound(upper)} (or set interpolate: true to "
            "interpolate inside the bucket, marked approximate)"
        )
    return problems
