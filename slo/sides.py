"""Counter *sides* of ratio and latency objectives: what a side selects, its increases as the sum
of its series' (``SideCounters``), and adding new rows to the series (``slo.series.counters``).

A side is the events selected by one selector (and, for a histogram, one ``le`` bound), shared
by every objective that reads it. Its increase over a window is ``sum(increase(x[W]))`` of the
series it selects: each series extrapolated on its own samples, as Prometheus does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from redline.kernel.labels import Selector, parse_labels
from redline.kernel.units import format_duration
from redline.slo.series.batches import Batch
from redline.slo.series.counters import SeriesCounters
from redline.slo.series.increase import increments
from redline.slo.series.rows import csr, csr_rows
from redline.slo.spec import LatencySLI

__all__ = ["Side", "SideCounters", "histogram_problems", "ingest_series_batches", "ingest_series_rows", "le_value"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


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


class SideCounters:
    """The sides' increases as sums of their series' Prometheus increases (``SeriesCounters``):
    ``sum(increase(x[W]))`` over the series each side selects. Member lists (side → series slots)
    are kept as compressed rows, rebuilt when a series joins."""

    def __init__(self, series: SeriesCounters, n_sides: int) -> None:
        self.series = series
        self._members: list[list[int]] = [[] for _ in range(n_sides)]
        self._csr: tuple[I64, I64] | None = None

    def join(self, side: int, slot: int) -> None:
        """Series ``slot`` counts toward ``side``."""
        self._members[side].append(slot)
        self._csr = None

    def _rows(self) -> tuple[I64, I64]:
        if self._csr is None:
            self._csr = csr(self._members)
        return self._csr

    def increases(self, at_ms: int, windows_ms: I64) -> tuple[F64, Bools]:
        """Every side's ``sum(increase(x[W]))`` at ``at_ms`` (sides × windows), and whether any of
        its series has an increase there (else no result, as an empty ``sum`` in PromQL)."""
        ptr, flat = self._rows()
        n_sides = len(self._members)
        increase, known = self.series.increases(at_ms, windows_ms)
        if len(flat) == 0:
            return np.zeros((n_sides, len(windows_ms))), np.zeros((n_sides, len(windows_ms)), dtype=np.bool_)
        member_known = known[flat]
        member_increase = np.where(member_known, increase[flat], 0.0)
        first = np.minimum(ptr[:-1], len(flat) - 1)
        empty = (ptr[1:] == ptr[:-1])[:, None]
        sums = np.where(empty, 0.0, np.add.reduceat(member_increase, first, axis=0))
        any_known = ~empty & (np.add.reduceat(member_known.astype(np.int64), first, axis=0) > 0)
        return sums, any_known

    def values_at(self, sides: I64, t: I64) -> F64:
        """Each side's cumulative count at ``t`` (element-wise): the sum of its series'."""
        ptr, flat = self._rows()
        owner, entry = csr_rows(ptr, sides)
        if len(owner) == 0:
            return np.zeros(len(sides), dtype=np.float64)
        values = self.series.values_at(flat[entry], t[owner])
        out: F64 = np.bincount(owner, weights=values, minlength=len(sides)).astype(np.float64)
        return out


def ingest_series_rows(series: SeriesCounters, slot_of: I64, sid: I64, ts: I64, val: F64, inc: F64) -> None:
    """Add a tick's rows (series id, timestamp, value, increment; sorted by series and time) to the
    counter series among them (``slot_of[sid]`` >= 0)."""
    slot = slot_of[sid]
    read = slot >= 0
    if not read.all():
        slot, ts, val, inc = slot[read], ts[read], val[read], inc[read]
    series.add(slot, ts, val, inc)


def ingest_series_batches(series: SeriesCounters, slot_of: I64, batches: Mapping[int, Batch], last_val: F64) -> None:
    """Add each counter series' new rows, series by series (a cold start); ``last_val``: each
    series' value before the batch."""
    for sid, (ts, val, given) in batches.items():
        slot = int(slot_of[sid]) if sid < len(slot_of) else -1
        if slot < 0:
            continue
        inc = given if given is not None else increments(val, float(last_val[sid]))
        series.add_series(slot, ts, val, inc)


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
