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
from redline.slo.series.cumulative import NO_TS, sum_per_side_and_time
from redline.slo.series.index import SelectorIndex, SeriesIndex
from redline.slo.series.layouts import FrameLayouts
from redline.slo.series.pool import SidePool
from redline.slo.series.rows import csr, csr_rows

__all__ = ["DropRule", "SpendTracks", "Template", "TrackIndex", "ring_lengths"]

DropRule = Literal["credit", "reset"]
_SMALL_BATCH = 50_000

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
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


class TrackIndex:
    """Which tracks there are and which series feed them: templates → distinct selectors,
    (template, group) → track, series → tracks, track → its value and time sides. Tracks are
    made as their first series is registered (``series``' callback)."""

    def __init__(self, templates: Sequence[Template], keep_minutes: Sequence[int], time_keep_minutes: int) -> None:
        self.templates = list(templates)
        self._keep = ring_lengths(keep_minutes)
        self._time_keep = time_keep_minutes
        self.metrics = sorted({t.selector.metric for t in self.templates})
        selectors: list[Selector] = []
        self._selector_templates: list[list[int]] = []  # per distinct selector, the templates reading it
        by_text: dict[str, int] = {}
        for template, spec in enumerate(self.templates):
            selector = by_text.setdefault(str(spec.selector), len(selectors))
            if selector == len(selectors):
                selectors.append(spec.selector)
                self._selector_templates.append([])
            self._selector_templates[selector].append(template)
        self._selector_index = SelectorIndex(selectors)
        self.values = SidePool()
        self.times = SidePool()
        self.tracks: list[_Track] = []
        self.template_tracks: list[list[int]] = [[] for _ in self.templates]
        self._track_ids: dict[tuple[int, GroupKey], int] = {}
        self.series = SeriesIndex(self.metrics, self._register)
        self.series_tracks: list[list[int]] = []
        self._series_csr: tuple[I64, I64] | None = None
        self._track_arrays: tuple[Bools, I64, I64] | None = None
        self._track_templates: I64 | None = None

    def _track(self, template: int, group: GroupKey) -> int:
        key = (template, group)
        track = self._track_ids.get(key)
        if track is None:
            track = len(self.tracks)
            time_side = self.times.new(self._time_keep) if self.templates[template].timed else -1
            self.tracks.append(_Track(template, group, self.values.new(self._keep[template]), time_side))
            self._track_ids[key] = track
            self.template_tracks[template].append(track)
        return track

    def _register(self, sid: int, metric: str, parsed: dict[str, str]) -> bool:
        """File a new series with the tracks of every template that reads it (tracks appear here)."""
        templates = sorted(
            t for selector in self._selector_index.matching(metric, parsed) for t in self._selector_templates[selector]
        )
        if not templates:
            return False
        tracks = [self._track(t, tuple(parsed.get(label) for label in self.templates[t].by)) for t in templates]
        for track in tracks:
            self.tracks[track].members.append(sid)
        self.series_tracks.append(tracks)
        return True

    def rule(self, track: int) -> DropRule:
        """The drop rule of ``track``'s template."""
        return self.templates[self.tracks[track].template].rule

    def series_csr(self) -> tuple[I64, I64]:
        """Series → tracks as CSR arrays (pointer, track ids), rebuilt when series were added."""
        if self._series_csr is None or len(self._series_csr[0]) != len(self.series_tracks) + 1:
            self._series_csr = csr(self.series_tracks)
        return self._series_csr

    def track_arrays(self) -> tuple[Bools, I64, I64]:
        """Per track: whether its rule is ``reset``, its value side, its time side (-1: none)."""
        if self._track_arrays is None or len(self._track_arrays[0]) != len(self.tracks):
            self._track_arrays = (
                np.asarray([self.templates[t.template].rule == "reset" for t in self.tracks], dtype=np.bool_),
                np.asarray([t.value_side for t in self.tracks], dtype=np.int64),
                np.asarray([t.time_side for t in self.tracks], dtype=np.int64),
            )
        return self._track_arrays

    def track_templates(self) -> I64:
        """Each track's template."""
        if self._track_templates is None or len(self._track_templates) != len(self.tracks):
            self._track_templates = np.asarray([t.template for t in self.tracks], dtype=np.int64)
        return self._track_templates


class SpendTracks:
    """Tracks of every template, fed by ``ingest``. Not thread-safe: one writer at a time."""

    def __init__(self, templates: Sequence[Template], keep_minutes: Sequence[int], time_keep_minutes: int) -> None:
        """``keep_minutes[i]``: how far back template ``i``'s value rings must reach (rounded up to
        a few ring lengths, see ``ring_lengths``); time sides keep ``time_keep_minutes``."""
        self.index = TrackIndex(templates, keep_minutes, time_keep_minutes)
        self.templates = self.index.templates
        self.tracks = self.index.tracks
        self.template_tracks = self.index.template_tracks
        self.track_arrays = self.index.track_arrays
        self.values, self.times = self.index.values, self.index.times
        self._series = self.index.series
        self._layouts = FrameLayouts()

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore a checkpoint's state; one written before frame layouts were kept gets none yet."""
        self.__dict__.update(state)
        self.__dict__.setdefault("_layouts", FrameLayouts())

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
        if samples.height == 0 or not self.index.metrics:
            return
        samples = samples.filter(
            pl.col("metric").is_in(self.index.metrics) & pl.col("timestamp").is_not_null()
            & pl.col("value").is_not_nan() & pl.col("labels").is_not_null()
        )
        if samples.height == 0:
            return
        found = series_runs(samples, self._series.id_of, self._layouts)
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
        # one point per (track, timestamp): each series row once per track reading it
        ptr, flat = self.index.series_csr()
        row, entry = csr_rows(ptr, sid)
        track = flat[entry]
        is_reset, value_side, time_side = self.track_arrays()
        increment = np.where(is_reset[track], reset[row], credit[row])
        point_track, point_time, step, first_point = sum_per_side_and_time(track, ts[row], increment)
        end_point = np.append(first_point[1:], len(point_track))
        track, time_ms, first_step = point_track[first_point], point_time[first_point], step[first_point]
        value_sides, time_sides = value_side[track], time_side[track]
        ok = (end_point - first_point == 1) & self.values.takes_one_point(value_sides, time_ms)
        timed = np.flatnonzero(time_sides >= 0)
        ok[timed] &= self.times.takes_one_point(time_sides[timed], time_ms[timed])
        self.values.append_points(value_sides[ok], time_ms[ok], first_step[ok])
        timed_ok = ok & (time_sides >= 0)
        if timed_ok.any():
            newest = self.times.gather("last_ts", time_sides[timed_ok])
            gap = np.where(newest == NO_TS, 0, time_ms[timed_ok] - newest).astype(np.float64)
            self.times.append_points(time_sides[timed_ok], time_ms[timed_ok], gap)
        for i in np.flatnonzero(~ok).tolist():
            points = slice(int(first_point[i]), int(end_point[i]))
            self._add_track(int(track[i]), [(point_time[points], step[points])])

    def _ingest_large(self, run_sid: I64, starts: I64, lengths: I64, ts_all: I64, val_all: F64) -> None:
        """A large batch (a cold start): series by series on contiguous rows, then track by track.
        Each series' increments under a rule are computed once, dropped after their last use."""
        batches = large_batches(run_sid, starts, lengths, ts_all, val_all, self._series.last_ts)
        per_series = {sid: (ts, val) for sid, (ts, val, _) in batches.items()}
        touched: dict[int, list[int]] = {}
        for sid in per_series:
            for track in self.index.series_tracks[sid]:
                touched.setdefault(track, []).append(sid)
        uses: dict[tuple[int, DropRule], int] = {}
        for track, sids in touched.items():
            for sid in sids:
                uses[(sid, self.index.rule(track))] = uses.get((sid, self.index.rule(track)), 0) + 1
        computed: dict[tuple[int, DropRule], F64] = {}
        for track, sids in touched.items():
            parts: list[tuple[I64, F64]] = []
            for sid in sids:
                key = (sid, self.index.rule(track))
                increment = computed.get(key)
                if increment is None:
                    increment = _increments(per_series[sid][1], float(self._series.last_val[sid]), key[1])
                uses[key] -= 1
                if uses[key]:
                    computed[key] = increment
                else:
                    computed.pop(key, None)
                parts.append((per_series[sid][0], increment))
            self._add_track(track, parts)
        for sid, (ts, val) in per_series.items():
            self._series.last_ts[sid] = int(ts[-1])
            self._series.last_val[sid] = float(val[-1])

    def _add_track(self, track_id: int, parts: Sequence[tuple[I64, F64]]) -> None:
        """Add a track's new points (per part strictly ascending) to its value and time sides; the
        time side's step is the gap since the previous sample time (``newest − first``)."""
        track = self.tracks[track_id]
        self.values.add(track.value_side, parts)
        if track.time_side < 0:
            return
        block, side = self.times.at(track.time_side)
        newest_ms = int(block.last_ts[side])
        times = _union([p[0] for p in parts])
        if newest_ms != NO_TS:
            times = times[times > newest_ms]  # a late sample does not move "newest sample at or before"
        if len(times):
            gaps = np.diff(times, prepend=times[0] if newest_ms == NO_TS else newest_ms).astype(np.float64)
            block.append(side, [(times, gaps)])

    # -- reading ---------------------------------------------------------------------------

    def track_increases(self, at_ms: int, windows_ms: I64, need: Bools | None = None) -> F64:
        """Every track's ``value(at) - value(at - W)`` per window (0 before its first sample);
        with ``need`` (templates × windows) only the windows its template needs (others 0)."""
        _, value_side, _ = self.track_arrays()
        need_sides: Bools | None = None
        if need is not None:
            need_sides = np.zeros((self.values.n, len(windows_ms)), dtype=np.bool_)
            need_sides[value_side] = need[self.index.track_templates()]
        out: F64 = self.values.increases(at_ms, windows_ms, need_sides)[value_side]
        return out

    def track_templates(self) -> I64:
        """Each track's template."""
        return self.index.track_templates()

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


def _increments(val: F64, prev: float, rule: DropRule) -> F64:
    """Each new value's increment under ``rule``, the first against ``prev`` (the series' value
    before; NaN for a new series, whose first sample adds nothing): ``credit``: ``v[i] − v[i−1]``;
    ``reset``: the same where ``v[i] >= v[i−1]``, else ``v[i]`` (a counter reset)."""
    previous = np.empty_like(val)
    previous[1:] = val[:-1]
    previous[0] = prev
    out: F64 = val - previous
    if rule == "reset":
        out = np.where(val >= previous, out, val)
    if math.isnan(prev):
        out[0] = 0.0
    return out


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


