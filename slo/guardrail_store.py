"""Cumulative spend and inference counts for the cost guardrails (``slo.guardrails``).

A *template* is what a guardrail reads: a selector, the rule for a drop in value (``credit``:
the drop lowers the sum, a refund; ``reset``: Prometheus counter-reset semantics, the new value
is all increase) and the labels to break the sum down by (showback). A *track* is one group of
a template: the series it selects that share those labels' values (absent label: ``None``),
summed. Tracks appear as their series are first seen.

Each track keeps its cumulative sum in ``slo.series.cumulative.CounterSides`` (exact points for the
last hours, a minute grid beyond), so any window's increase is two lookups. Spend tracks also
keep a *time side*: the cumulative sum of the gaps between the track's sample timestamps, i.e.
(newest sample at or before t) − (first sample), which tells whether a window holds a sample
(``no_data`` is never a $0 "ok").

Memory: a side's minute ring is as long as its template needs (the longest period or window of
the guardrails reading it, plus a margin; ``ring_lengths`` rounds keeps within 15% together), and
blocks hold sides of one ring length, sized when their sides arrive: one quarter budget does not
make every side keep 93 days. Time sides are only read at ``at`` (usually their newest point, from
``last_value``) and keep a day and a few hours. The increase of a track over ``(a, b]`` is the sum of its
series' increments at samples in ``(a, b]``: the value at or before ``b`` minus the value at or
before ``a``, corrected by the template's rule; a series that starts inside counts from its first
sample. No extrapolation: spend is summed, not rated.

Ingest is numpy on whole arrays: a tick (one sample per series) is added to every track at once;
a cold start goes series by series on contiguous rows, then track by track.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import Selector
from redline.slo.series.batches import large_batches, new_rows, series_runs
from redline.slo.series.cumulative import NO_TS
from redline.slo.series.index import SelectorIndex, SeriesIndex
from redline.slo.series.pool import SidePool
from redline.slo.series.rows import csr, csr_rows

__all__ = ["DropRule", "SpendTracks", "Template", "ring_lengths"]

DropRule = Literal["credit", "reset"]
MINUTE_MS = 60_000
_SMALL_BATCH = 50_000

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
GroupKey = tuple[str | None, ...]


@dataclass(frozen=True)
class Template:
    """What one guardrail side reads: a selector, the drop rule, the showback labels, and whether
    to keep the time side (spend)."""

    selector: Selector
    rule: DropRule
    by: tuple[str, ...] = ()
    timed: bool = False

    @property
    def key(self) -> tuple[str, str, tuple[str, ...], bool]:
        return (str(self.selector), self.rule, self.by, self.timed)


@dataclass
class _Track:
    template: int
    group: GroupKey
    value_side: int
    time_side: int  # -1 without a time side
    members: list[int] = field(default_factory=list)


class SpendTracks:
    """Tracks of every template, fed by ``ingest``. Not thread-safe: one writer at a time."""

    def __init__(self, templates: Sequence[Template], keep_minutes: Sequence[int], time_keep_minutes: int) -> None:
        """``keep_minutes[i]``: how far back template ``i``'s value rings must reach (rounded up to
        a few ring lengths, see ``ring_lengths``); time sides keep ``time_keep_minutes``."""
        self.templates = list(templates)
        self._keep = ring_lengths(keep_minutes)
        self._time_keep = time_keep_minutes
        self._metrics = sorted({t.selector.metric for t in self.templates})
        # series → templates: the distinct selectors, each with the templates reading it
        selectors: list[Selector] = []
        self._selector_templates: list[list[int]] = []
        by_text: dict[str, int] = {}
        for i, t in enumerate(self.templates):
            k = by_text.setdefault(str(t.selector), len(selectors))
            if k == len(selectors):
                selectors.append(t.selector)
                self._selector_templates.append([])
            self._selector_templates[k].append(i)
        self._selector_index = SelectorIndex(selectors)
        self.values = SidePool()
        self.times = SidePool()
        self.tracks: list[_Track] = []
        self.template_tracks: list[list[int]] = [[] for _ in self.templates]
        self._track_ids: dict[tuple[int, GroupKey], int] = {}
        self._series = SeriesIndex(self._metrics, self._register)
        self._ser_tracks: list[list[int]] = []
        self._ser_rules: list[set[DropRule]] = []
        self._csr: tuple[I64, I64] | None = None
        self._tarr: tuple[npt.NDArray[np.bool_], I64, I64] | None = None
        self._ttpl: I64 | None = None

    # -- series and tracks -----------------------------------------------------------------

    def _track(self, template: int, group: GroupKey) -> int:
        key = (template, group)
        tid = self._track_ids.get(key)
        if tid is None:
            tid = len(self.tracks)
            time_side = self.times.new(self._time_keep) if self.templates[template].timed else -1
            self.tracks.append(_Track(template, group, self.values.new(self._keep[template]), time_side))
            self._track_ids[key] = tid
            self.template_tracks[template].append(tid)
        return tid

    def _register(self, sid: int, metric: str, parsed: dict[str, str]) -> bool:
        """File a new series with the tracks of every template that reads it (tracks appear here)."""
        hits = sorted(t for k in self._selector_index.matching(metric, parsed) for t in self._selector_templates[k])
        if not hits:
            return False
        tracks = [self._track(t, tuple(parsed.get(k) for k in self.templates[t].by)) for t in hits]
        for tid in tracks:
            self.tracks[tid].members.append(sid)
        self._ser_tracks.append(tracks)
        self._ser_rules.append({self.templates[t].rule for t in hits})
        return True

    def _series_tracks(self) -> tuple[I64, I64]:
        """Series → tracks as CSR arrays (pointer, track ids), rebuilt when series were added."""
        if self._csr is None or len(self._csr[0]) != len(self._ser_tracks) + 1:
            self._csr = csr(self._ser_tracks)
        return self._csr

    def track_arrays(self) -> tuple[npt.NDArray[np.bool_], I64, I64]:
        """Per track: whether its rule is ``reset``, its value side, its time side (-1: none)."""
        if self._tarr is None or len(self._tarr[0]) != len(self.tracks):
            self._tarr = (
                np.asarray([self.templates[t.template].rule == "reset" for t in self.tracks], dtype=np.bool_),
                np.asarray([t.value_side for t in self.tracks], dtype=np.int64),
                np.asarray([t.time_side for t in self.tracks], dtype=np.int64),
            )
        return self._tarr

    # -- ingest ----------------------------------------------------------------------------

    def ingest(self, samples: pl.DataFrame) -> None:
        """Add samples (``SAMPLE_SCHEMA``, any order). Unselected series, NaN values and samples not
        newer than their series' newest are ignored (of equal timestamps in a batch, the first
        wins). Raises ``ValueError`` naming a missing or mistyped column."""
        for name, dtype in SAMPLE_SCHEMA.items():
            if name not in samples.schema:
                raise ValueError(f"ingest: samples frame has no column {name!r} (expected {dict(SAMPLE_SCHEMA)})")
            if samples.schema[name] != dtype:
                raise ValueError(f"ingest: column {name!r} is {samples.schema[name]}, expected {dtype}")
        if samples.height == 0 or not self._metrics:
            return
        samples = samples.filter(
            pl.col("metric").is_in(self._metrics) & pl.col("timestamp").is_not_null() & pl.col("value").is_not_nan()
            & pl.col("labels").is_not_null()
        )
        if samples.height == 0:
            return
        found = series_runs(samples, self._series.id_of)
        if found is None:
            return
        samples, starts, lengths, run_sid = found
        ts = samples.get_column("timestamp").to_numpy()
        val = samples.get_column("value").to_numpy().astype(np.float64, copy=False)
        if samples.height <= _SMALL_BATCH:
            self._ingest_small(np.repeat(run_sid, lengths), ts, val)
        else:
            self._ingest_large(run_sid, starts, lengths, ts, val)

    def _ingest_small(self, sid: I64, ts: I64, val: F64) -> None:
        """A batch as whole arrays; tracks that get one new, newer point (a tick) all at once."""
        sid, ts, val = new_rows(sid, ts, val, self._series.last_ts)
        if len(sid) == 0:
            return
        first = np.concatenate([[True], sid[1:] != sid[:-1]])
        prev = np.empty_like(val)
        prev[1:] = val[:-1]
        prev[first] = self._series.last_val[sid[first]]
        credit = np.where(np.isnan(prev), 0.0, val - prev)
        reset = np.where(np.isnan(prev), 0.0, np.where(val >= prev, val - prev, val))
        lasts = np.append(np.flatnonzero(first)[1:] - 1, len(sid) - 1)
        self._series.remember_last(sid[lasts], ts[lasts], val[lasts])
        # rows per (track, timestamp): each series row once per track reading it
        ptr, flat = self._series_tracks()
        rep, entry = csr_rows(ptr, sid)
        track = flat[entry]
        is_reset, value_side, time_side = self.track_arrays()
        inc = np.where(is_reset[track], reset[rep], credit[rep])
        t = ts[rep]
        order = np.lexsort((t, track))
        track, t, inc = track[order], t[order], inc[order]
        pair = np.flatnonzero(np.concatenate([[True], (track[1:] != track[:-1]) | (t[1:] != t[:-1])]))
        tr_u, t_u, step = track[pair], t[pair], np.add.reduceat(inc, pair)
        firsts = np.flatnonzero(np.concatenate([[True], tr_u[1:] != tr_u[:-1]]))
        ends = np.append(firsts[1:], len(tr_u))
        points = ends - firsts
        tr1, t1, step1 = tr_u[firsts], t_u[firsts], step[firsts]
        value_sides, time_sides = value_side[tr1], time_side[tr1]
        ok = (points == 1) & self._fast(self.values, value_sides, t1)
        has_time = np.flatnonzero(time_sides >= 0)
        ok[has_time] &= self._fast(self.times, time_sides[has_time], t1[has_time])
        self.values.append_points(value_sides[ok], t1[ok], step1[ok])
        timed = ok & (time_sides >= 0)
        if timed.any():
            last = self.times.gather("last_ts", time_sides[timed])
            gap = np.where(last == NO_TS, 0, t1[timed] - last).astype(np.float64)
            self.times.append_points(time_sides[timed], t1[timed], gap)
        for i in np.flatnonzero(~ok).tolist():
            a, b = int(firsts[i]), int(ends[i])
            self._add_track(int(tr1[i]), [(t_u[a:b], step[a:b])])

    @staticmethod
    def _fast(store: SidePool, sides: I64, ts: I64) -> npt.NDArray[np.bool_]:
        """Whether one point at ``ts`` can go through ``append_points``: newer than the side's
        newest, at most an hour of new minute boundaries."""
        last = store.gather("last_ts", sides)
        last_min = store.gather("last_minute", sides)
        has = last != NO_TS
        minutes = ts // MINUTE_MS - np.where(has, last_min, ts // MINUTE_MS - 1)
        out: npt.NDArray[np.bool_] = (~has | (ts > last)) & (minutes <= 60)
        return out

    def _ingest_large(self, run_sid: I64, starts: I64, lengths: I64, ts_all: I64, val_all: F64) -> None:
        """A large batch (a cold start): series by series on contiguous rows, then track by track."""
        per_series = {
            s: (ts, val) for s, (ts, val, _) in large_batches(run_sid, starts, lengths, ts_all, val_all,
                                                              self._series.last_ts).items()
        }
        touched: dict[int, list[int]] = {}
        for s in per_series:
            for tid in self._ser_tracks[s]:
                touched.setdefault(tid, []).append(s)
        uses: dict[tuple[int, DropRule], int] = {}
        for tid, sids in touched.items():
            rule = self.templates[self.tracks[tid].template].rule
            for s in sids:
                uses[(s, rule)] = uses.get((s, rule), 0) + 1
        computed: dict[tuple[int, DropRule], F64] = {}  # dropped after their last use
        for tid, sids in touched.items():
            rule = self.templates[self.tracks[tid].template].rule
            parts: list[tuple[I64, F64]] = []
            for s in sids:
                key = (s, rule)
                inc = computed.get(key)
                if inc is None:
                    inc = self._increments(s, per_series[s][1], rule)
                uses[key] -= 1
                if uses[key]:
                    computed[key] = inc
                else:
                    computed.pop(key, None)
                parts.append((per_series[s][0], inc))
            self._add_track(tid, parts)
        for s, (ts, val) in per_series.items():
            self._series.last_ts[s] = int(ts[-1])
            self._series.last_val[s] = float(val[-1])

    def _increments(self, sid: int, val: F64, rule: DropRule) -> F64:
        """Each new value's increment under ``rule`` (the first against the series' previous value;
        nothing for a new series's first sample)."""
        prev = np.empty_like(val)
        prev[1:] = val[:-1]
        prev[0] = self._series.last_val[sid]
        inc = val - prev
        if rule == "reset":
            inc = np.where(val >= prev, inc, val)
        if math.isnan(float(prev[0])):
            inc[0] = 0.0
        out: F64 = inc
        return out

    def _add_track(self, tid: int, parts: Sequence[tuple[I64, F64]]) -> None:
        """Add a track's new points (per part strictly ascending) to its value and time sides."""
        track = self.tracks[tid]
        self.values.add(track.value_side, parts)
        if track.time_side < 0:
            return
        cs, s = self.times.at(track.time_side)
        last = int(cs.last_ts[s])
        ts_u = _union([p[0] for p in parts])
        if last != NO_TS:
            ts_u = ts_u[ts_u > last]  # a late sample does not move "newest sample at or before"
        if len(ts_u):
            gaps = np.diff(ts_u, prepend=ts_u[0] if last == NO_TS else last).astype(np.float64)
            cs.append(s, [(ts_u, gaps)])

    # -- reading ---------------------------------------------------------------------------

    def track_increases(self, at_ms: int, windows_ms: I64, need: npt.NDArray[np.bool_] | None = None) -> F64:
        """Every track's ``value(at) - value(at - W)`` per window (0 before its first sample);
        with ``need`` (templates × windows) only the windows its template needs (others 0)."""
        _, value_side, _ = self.track_arrays()
        need_sides: npt.NDArray[np.bool_] | None = None
        if need is not None:
            need_sides = np.zeros((self.values.n, len(windows_ms)), dtype=np.bool_)
            need_sides[value_side] = need[self.track_templates()]
        out: F64 = self.values.increases(at_ms, windows_ms, need_sides)[value_side]
        return out

    def track_templates(self) -> I64:
        """Each track's template."""
        if self._ttpl is None or len(self._ttpl) != len(self.tracks):
            self._ttpl = np.asarray([t.template for t in self.tracks], dtype=np.int64)
        return self._ttpl

    def first_ts(self, sides: I64) -> I64:
        """Each value side's first sample time (``NO_TS`` when none)."""
        return self.values.gather("first_ts", sides)

    def newest_at(self, at_ms: int, time_sides: I64) -> F64:
        """Per time side (``-1``: none), the newest sample at or before ``at`` in ms (``-inf``
        when none): the time side's value (newest − first) plus its first sample time."""
        out = np.full(len(time_sides), -np.inf)
        has = np.flatnonzero(time_sides >= 0)
        if len(has) == 0:
            return out
        sides = time_sides[has]
        first = self.times.gather("first_ts", sides)
        live = (first != NO_TS) & (first <= at_ms)
        value = self.times.values_at(at_ms, sides)
        out[has] = np.where(live, value + np.where(live, first, 0), -np.inf)
        return out

    def nbytes(self) -> int:
        """Bytes held by the cumulative arrays and the per-series state."""
        return self.values.nbytes() + self.times.nbytes() + self._series.nbytes()


def ring_lengths(keep_minutes: Sequence[int]) -> list[int]:
    """Each keep rounded up to a shared ring length: a keep within 15% of a longer one takes that
    length, so a configuration has a few block groups rather than one per distinct window."""
    classes: list[int] = []
    for k in sorted(set(keep_minutes), reverse=True):
        if not classes or k * 1.15 < classes[-1]:
            classes.append(k)
    return [min(c for c in classes if c >= k) for k in keep_minutes]


def _union(arrays: Sequence[I64]) -> I64:
    """Sorted distinct timestamps of ascending arrays (aligned scrapes: one array, no sort)."""
    head = arrays[0]
    if all(len(a) == len(head) and np.array_equal(a, head) for a in arrays[1:]):
        return head
    ts = np.sort(np.concatenate(arrays))
    out: I64 = ts[np.concatenate([[True], ts[1:] != ts[:-1]])]
    return out


