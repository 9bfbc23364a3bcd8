"""Cumulative spend and inference counts for the cost guardrails (``slo.guardrails``).

A *template* is what a guardrail reads: a selector, the rule for a drop in value (``credit``:
the drop lowers the sum, a refund; ``reset``: Prometheus counter-reset semantics, the new value
is all increase) and the labels to break the sum down by (showback). A *track* is one group of
a template: the series it selects that share those labels' values (absent label: ``None``),
summed. Tracks appear as their series are first seen.

Each track keeps its cumulative sum in ``slo.cumulative.CounterSides`` (exact points for the
last hours, a minute grid beyond), so any window's increase is two lookups. Spend tracks also
keep a *time side*: the cumulative sum of the gaps between the track's sample timestamps, i.e.
(newest sample at or before t) − (first sample), which tells whether a window holds a sample
(``no_data`` is never a $0 "ok"). The increase of a track over ``(a, b]`` is the sum of its
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

from slo.cumulative import NO_TS, CounterSides
from store.types import SAMPLE_SCHEMA, Selector, parse_labels

__all__ = ["DropRule", "SpendTracks", "Template"]

DropRule = Literal["credit", "reset"]
MINUTE_MS = 60_000
_BLOCK = 256
"""Sides per ``CounterSides`` block; blocks are added as groups appear (zero pages until used)."""
_SMALL_BATCH = 50_000
_MAX_RUNS = 10_000

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


class _Sides:
    """Side ids over fixed-size ``CounterSides`` blocks, so sides can be added at any time."""

    def __init__(self, keep_minutes: int) -> None:
        self.keep_minutes = keep_minutes
        self.blocks: list[CounterSides] = []
        self.n = 0

    def new(self) -> int:
        if self.n == len(self.blocks) * _BLOCK:
            # fine_span_ms=0: every window is value(at) - value(at - W), never extrapolated
            self.blocks.append(CounterSides(_BLOCK, keep_minutes=self.keep_minutes, fine_span_ms=0))
        self.n += 1
        return self.n - 1

    def at(self, side: int) -> tuple[CounterSides, int]:
        return self.blocks[side // _BLOCK], side % _BLOCK

    def gather(self, name: Literal["first_ts", "last_ts", "last_minute"], sides: I64) -> I64:
        """A per-side attribute of ``CounterSides`` for many sides."""
        out = np.empty(len(sides), dtype=np.int64)
        blk = sides // _BLOCK
        for b in np.unique(blk).tolist():
            sel = blk == b
            out[sel] = getattr(self.blocks[b], name)[sides[sel] % _BLOCK]
        return out

    def append_points(self, sides: I64, ts: I64, steps: F64) -> None:
        blk = sides // _BLOCK
        for b in np.unique(blk).tolist():
            sel = blk == b
            self.blocks[b].append_points(sides[sel] % _BLOCK, ts[sel], steps[sel])

    def add(self, side: int, parts: Sequence[tuple[I64, F64]]) -> None:
        """Add points (per part strictly ascending); those not newer than the side's newest are
        folded in as late points."""
        cs, s = self.at(side)
        last = int(cs.last_ts[s])
        new: list[tuple[I64, F64]] = []
        late_t: list[I64] = []
        late_i: list[F64] = []
        for ts, inc in parts:
            if last != NO_TS and len(ts) and int(ts[0]) <= last:
                j = int(np.searchsorted(ts, last, side="right"))
                late_t.append(ts[:j])
                late_i.append(inc[:j])
                ts, inc = ts[j:], inc[j:]
            if len(ts):
                new.append((ts, inc))
        if late_t:
            lt, li = np.concatenate(late_t), np.concatenate(late_i)
            order = np.argsort(lt, kind="stable")
            lt, li = lt[order], li[order]
            distinct = np.concatenate([lt[1:] != lt[:-1], [True]])
            cum = np.cumsum(li)[distinct]
            cs.merge_late(s, lt[distinct], np.diff(cum, prepend=0.0))
        if new:
            cs.append(s, new)

    def increases(self, at_ms: int, windows_ms: I64) -> F64:
        """Every side's ``value(at) - value(at - W)`` (0 before its first sample)."""
        if not self.blocks:
            return np.zeros((0, len(windows_ms)), dtype=np.float64)
        parts = [b.increases(at_ms, windows_ms)[0] for b in self.blocks]
        return np.concatenate(parts)[: self.n]

    def nbytes(self) -> int:
        return sum(b.nbytes() for b in self.blocks)


class SpendTracks:
    """Tracks of every template, fed by ``ingest``. Not thread-safe: one writer at a time."""

    def __init__(self, templates: Sequence[Template], keep_minutes: int) -> None:
        self.templates = list(templates)
        self._by_metric: dict[str, list[int]] = {}
        for i, t in enumerate(self.templates):
            self._by_metric.setdefault(t.selector.metric, []).append(i)
        self._metrics = sorted(self._by_metric)
        self.sides = _Sides(keep_minutes)
        self.tracks: list[_Track] = []
        self.template_tracks: list[list[int]] = [[] for _ in self.templates]
        self._track_ids: dict[tuple[int, GroupKey], int] = {}
        self._series: dict[tuple[str, str], int] = {}
        self._ser_tracks: list[list[int]] = []
        self._ser_rules: list[set[DropRule]] = []
        self._last_ts = np.zeros(0, dtype=np.int64)
        self._last_val = np.zeros(0, dtype=np.float64)
        self._csr: tuple[I64, I64] | None = None
        self._tarr: tuple[npt.NDArray[np.bool_], I64, I64] | None = None

    # -- series and tracks -----------------------------------------------------------------

    def _track(self, template: int, group: GroupKey) -> int:
        key = (template, group)
        tid = self._track_ids.get(key)
        if tid is None:
            tid = len(self.tracks)
            time_side = self.sides.new() if self.templates[template].timed else -1
            self.tracks.append(_Track(template, group, self.sides.new(), time_side))
            self._track_ids[key] = tid
            self.template_tracks[template].append(tid)
        return tid

    def _series_id(self, metric: str, labels: str) -> int:
        key = (metric, labels)
        sid = self._series.get(key)
        if sid is not None:
            return sid
        sid = -1
        parsed = parse_labels(labels)
        hits = [t for t in self._by_metric.get(metric, ()) if self.templates[t].selector.matches(metric, parsed)]
        if hits:
            sid = len(self._ser_tracks)
            tracks = [self._track(t, tuple(parsed.get(k) for k in self.templates[t].by)) for t in hits]
            for tid in tracks:
                self.tracks[tid].members.append(sid)
            self._ser_tracks.append(tracks)
            self._ser_rules.append({self.templates[t].rule for t in hits})
            if sid >= len(self._last_ts):
                grow = max(64, 2 * len(self._last_ts))
                self._last_ts = np.concatenate([self._last_ts, np.full(grow, NO_TS, dtype=np.int64)])
                self._last_val = np.concatenate([self._last_val, np.full(grow, np.nan)])
        self._series[key] = sid
        return sid

    def _series_tracks(self) -> tuple[I64, I64]:
        """Series → tracks as CSR arrays (pointer, track ids), rebuilt when series were added."""
        if self._csr is None or len(self._csr[0]) != len(self._ser_tracks) + 1:
            counts = [len(x) for x in self._ser_tracks]
            ptr = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
            flat = [t for x in self._ser_tracks for t in x]
            self._csr = (ptr, np.asarray(flat, dtype=np.int64))
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
        starts, lengths = _runs(samples)
        if len(starts) > max(_MAX_RUNS, samples.height // 16):
            samples = samples.sort("metric", "labels", "timestamp", maintain_order=True)
            starts, lengths = _runs(samples)
        keys = samples.select(
            pl.col("metric").gather(pl.Series(starts)), pl.col("labels").gather(pl.Series(starts))
        ).rows()
        run_sid = np.fromiter((self._series_id(m, lb) for m, lb in keys), dtype=np.int64, count=len(keys))
        if not (run_sid >= 0).any():
            return
        ts = samples.get_column("timestamp").to_numpy()
        val = samples.get_column("value").to_numpy().astype(np.float64, copy=False)
        if samples.height <= _SMALL_BATCH:
            self._ingest_small(np.repeat(run_sid, lengths), ts, val)
        else:
            self._ingest_large(run_sid, starts, lengths, ts, val)

    def _ingest_small(self, sid: I64, ts: I64, val: F64) -> None:
        """A batch as whole arrays; tracks that get one new, newer point (a tick) all at once."""
        keep = sid >= 0
        sid, ts, val = sid[keep], ts[keep], val[keep]
        order = np.lexsort((ts, sid))
        sid, ts, val = sid[order], ts[order], val[order]
        fresh = ts > self._last_ts[sid]
        fresh[1:] &= (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])  # the first of duplicates wins
        sid, ts, val = sid[fresh], ts[fresh], val[fresh]
        if len(sid) == 0:
            return
        first = np.concatenate([[True], sid[1:] != sid[:-1]])
        prev = np.empty_like(val)
        prev[1:] = val[:-1]
        prev[first] = self._last_val[sid[first]]
        credit = np.where(np.isnan(prev), 0.0, val - prev)
        reset = np.where(np.isnan(prev), 0.0, np.where(val >= prev, val - prev, val))
        lasts = np.append(np.flatnonzero(first)[1:] - 1, len(sid) - 1)
        self._last_ts[sid[lasts]] = ts[lasts]
        self._last_val[sid[lasts]] = val[lasts]
        # rows per (track, timestamp): each series row once per track reading it
        ptr, flat = self._series_tracks()
        n_of = ptr[sid + 1] - ptr[sid]
        total = int(n_of.sum())
        rep = np.repeat(np.arange(len(sid)), n_of)
        within = np.arange(total) - np.repeat(np.cumsum(n_of) - n_of, n_of)
        track = flat[ptr[sid[rep]] + within]
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
        ok = (points == 1) & self._fast(value_sides, t1)
        has_time = time_sides >= 0
        ok &= ~has_time | self._fast(np.where(has_time, time_sides, value_sides), t1)
        self.sides.append_points(value_sides[ok], t1[ok], step1[ok])
        timed = ok & has_time
        if timed.any():
            last = self.sides.gather("last_ts", time_sides[timed])
            gap = np.where(last == NO_TS, 0, t1[timed] - last).astype(np.float64)
            self.sides.append_points(time_sides[timed], t1[timed], gap)
        for i in np.flatnonzero(~ok).tolist():
            a, b = int(firsts[i]), int(ends[i])
            self._add_track(int(tr1[i]), [(t_u[a:b], step[a:b])])

    def _fast(self, sides: I64, ts: I64) -> npt.NDArray[np.bool_]:
        """Whether one point at ``ts`` can go through ``append_points``: newer than the side's
        newest, at most an hour of new minute boundaries."""
        last = self.sides.gather("last_ts", sides)
        last_min = self.sides.gather("last_minute", sides)
        has = last != NO_TS
        minutes = ts // MINUTE_MS - np.where(has, last_min, ts // MINUTE_MS - 1)
        out: npt.NDArray[np.bool_] = (~has | (ts > last)) & (minutes <= 60)
        return out

    def _ingest_large(self, run_sid: I64, starts: I64, lengths: I64, ts_all: I64, val_all: F64) -> None:
        """A large batch (a cold start): series by series on contiguous rows, then track by track."""
        runs: dict[int, list[tuple[int, int]]] = {}
        for s, a, n in zip(run_sid.tolist(), starts.tolist(), lengths.tolist(), strict=True):
            if s >= 0:
                runs.setdefault(s, []).append((a, a + n))
        per_series: dict[int, tuple[I64, F64]] = {}
        for s, spans in runs.items():
            if len(spans) == 1:
                ((a, b),) = spans
                ts, val = ts_all[a:b], val_all[a:b]
            else:
                ts = np.concatenate([ts_all[a:b] for a, b in spans])
                val = np.concatenate([val_all[a:b] for a, b in spans])
            if len(ts) > 1 and not (ts[1:] > ts[:-1]).all():
                if not (ts[1:] >= ts[:-1]).all():
                    order = np.argsort(ts, kind="stable")
                    ts, val = ts[order], val[order]
                distinct = np.concatenate([[True], ts[1:] != ts[:-1]])
                ts, val = ts[distinct], val[distinct]
            last = int(self._last_ts[s])
            if len(ts) and int(ts[0]) <= last:
                j = int(np.searchsorted(ts, last, side="right"))
                ts, val = ts[j:], val[j:]
            if len(ts):
                per_series[s] = (ts, val)
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
            self._last_ts[s] = int(ts[-1])
            self._last_val[s] = float(val[-1])

    def _increments(self, sid: int, val: F64, rule: DropRule) -> F64:
        """Each new value's increment under ``rule`` (the first against the series' previous value;
        nothing for a new series's first sample)."""
        prev = np.empty_like(val)
        prev[1:] = val[:-1]
        prev[0] = self._last_val[sid]
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
        self.sides.add(track.value_side, parts)
        if track.time_side < 0:
            return
        cs, s = self.sides.at(track.time_side)
        last = int(cs.last_ts[s])
        ts_u = _union([p[0] for p in parts])
        if last != NO_TS:
            ts_u = ts_u[ts_u > last]  # a late sample does not move "newest sample at or before"
        if len(ts_u):
            gaps = np.diff(ts_u, prepend=ts_u[0] if last == NO_TS else last).astype(np.float64)
            cs.append(s, [(ts_u, gaps)])

    # -- reading ---------------------------------------------------------------------------

    def increases(self, at_ms: int, windows_ms: I64) -> F64:
        """Every side's ``value(at) - value(at - W)`` per window (0 before a side's first sample)."""
        return self.sides.increases(at_ms, windows_ms)

    def first_ts(self, sides: I64) -> I64:
        """Each side's first sample time (``NO_TS`` when none)."""
        return self.sides.gather("first_ts", sides)

    def nbytes(self) -> int:
        """Bytes held by the cumulative arrays and the per-series state."""
        return self.sides.nbytes() + int(self._last_ts.nbytes + self._last_val.nbytes)


def _union(arrays: Sequence[I64]) -> I64:
    """Sorted distinct timestamps of ascending arrays (aligned scrapes: one array, no sort)."""
    head = arrays[0]
    if all(len(a) == len(head) and np.array_equal(a, head) for a in arrays[1:]):
        return head
    ts = np.sort(np.concatenate(arrays))
    out: I64 = ts[np.concatenate([[True], ts[1:] != ts[:-1]])]
    return out


def _runs(samples: pl.DataFrame) -> tuple[I64, I64]:
    """Start and length of each run of rows with equal (metric, labels)."""
    per_col = samples.select(
        pl.col(c).rle().struct.field("len").implode().alias(c) for c in ("labels", "metric")
    )
    ends = np.union1d(
        *(np.cumsum(per_col.get_column(c)[0].to_numpy().astype(np.int64)) for c in ("labels", "metric"))
    )
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return starts, (ends - starts).astype(np.int64)
