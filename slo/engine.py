"""The evaluator: samples in, a frozen ``StatusReport`` out. Pure: no I/O, no clock.

``SLOEvaluator`` keeps, per distinct *side* (a selector, plus a bucket bound for latency),
one reset-corrected cumulative count shared by every objective that reads it (``CounterSides``),
per freshness objective the cumulative count of good slices (``FreshnessStore``), and per
throughput or GPU-band objective the same for its slices (``slo.timeslice.SliceStore``).

``ingest`` takes any sample frame. Series are found as runs of equal (metric, labels) — the
store returns frames sorted by series, so a 30-day cold start is a few hundred runs, mapped to
series ids with a dict — and the work is numpy on each series' contiguous rows (a frame that
is not grouped by series is sorted first). Small batches (a scrape tick) are handled as whole
arrays instead. ``evaluate(at_ms)`` only looks things up: every side and window in one go,
every objective's ratios as arrays; Python only builds the frozen results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from slo.cumulative import NO_TS, CounterSides, FreshnessStore, series_increments
from slo.ranking import classify, rank_dimensions, rank_objectives
from slo.results import ObjectiveResult, StatusReport
from slo.spec import BURN_WINDOWS, GPUBandSLI, SLOSpec, ThroughputSLI
from slo.timeslice import NO_SLICE, SliceStore, band_extremes, band_slices, slice_index, throughput_slices
from store.types import SAMPLE_SCHEMA, Selector, format_duration, parse_duration, parse_labels

__all__ = ["TTB_BURN_WINDOWS", "SLOEvaluator"]

TTB_BURN_WINDOWS: tuple[str, ...] = ("1h", "6h", "1d")
"""Burn windows used for time to breach, first available wins."""

_BURN_MS: tuple[int, ...] = tuple(round(parse_duration(w) * 1000) for w in BURN_WINDOWS)
_TTB_COLUMNS: tuple[tuple[str, int], ...] = tuple((w, BURN_WINDOWS.index(w)) for w in TTB_BURN_WINDOWS)
_SMALL_BATCH = 50_000
"""Batches up to this many rows are handled as whole arrays, larger ones series by series."""
_MAX_RUNS = 10_000
"""A frame with more runs of equal series than this (and than rows / 16) is sorted first."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_Batch = tuple[I64, F64, F64 | None]
"""One series' new rows: timestamps (strictly ascending, newer than before), values, and
increments (``None``: computed when needed, so a cold start holds one series' at a time)."""


def _le_value(labels: dict[str, str]) -> float | None:
    raw = labels.get("le")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _same_bound(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


@dataclass
class _Side:
    """Events selected by one selector (and, for a histogram, one ``le`` bound)."""

    selector: Selector
    le: float | None
    members: list[int] = field(default_factory=list)

    def selects(self, metric: str, labels: dict[str, str]) -> bool:
        if not self.selector.matches(metric, labels):
            return False
        if self.le is None:
            return True
        le = _le_value(labels)
        return le is not None and _same_bound(le, self.le)


@dataclass
class _FreshGroup:
    """Freshness objectives reading the same series with the same slice length."""

    selector: Selector
    slice_ms: int
    members: list[int] = field(default_factory=list)


@dataclass
class _SliceGroup:
    """Throughput or GPU-band objectives reading the same series the same way (slice length; for a
    band also the aggregate and the ``by`` labels), so their slices are summarised once."""

    kind: str  # "throughput" or "gpu"
    selector: Selector
    slice_ms: int
    aggregate: str = "avg"
    by: tuple[str, ...] = ()
    members: list[int] = field(default_factory=list)
    pools: dict[tuple[str, ...], int] = field(default_factory=dict)
    """Each distinct value tuple of the ``by`` labels (one pool when ``by`` is empty)."""
    pool_of: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Pool of each series id (indexed by series id; only members' entries are meaningful)."""
    pending: tuple[I64, I64, F64, npt.NDArray[np.bool_]] | None = None
    """Rows of the open slice: series, timestamp, increment (throughput) or value (band), known."""
    last_final: tuple[int, list[float]] | None = None
    open: tuple[int, list[float]] | None = None
    """(slice, rate) or (slice, aggregate per pool) of the last final slice and of the open one."""
    max_value: float = -math.inf

    def add_member(self, sid: int, labels: dict[str, str]) -> None:
        self.members.append(sid)
        key = tuple(labels.get(name, "") for name in self.by)
        pool = self.pools.setdefault(key, len(self.pools))
        if sid >= len(self.pool_of):
            self.pool_of = np.concatenate([self.pool_of, np.zeros(max(64, sid + 1), dtype=np.int64)])
        self.pool_of[sid] = pool

    def pool_name(self, pool: int) -> str:
        if not self.by:
            return "all GPUs"
        key = next(k for k, v in self.pools.items() if v == pool)
        return "{" + ",".join(f'{n}="{v}"' for n, v in zip(self.by, key, strict=True)) + "}"


@dataclass
class _Objective:
    spec: SLOSpec
    window_ms: int
    total: int = -1
    errors: int = -1
    good: int = -1
    freshness: int = -1  # index in the FreshnessStore
    slices: int = -1  # index in the SliceStore
    slice_group: int = -1
    # constants of the result, computed once
    budget: float = 0.0
    target: float = 0.0
    window: str = ""
    kind: str = ""
    dimension: str = ""


class _SelectorIndex:
    """Which of many selectors may select a series: by metric and one ``label="value"`` matcher,
    so registering a series checks only a few candidates instead of every selector."""

    def __init__(self, selectors: Sequence[Selector]) -> None:
        self._by_label: dict[tuple[str, str, str], list[int]] = {}
        self._rest: dict[str, list[int]] = {}
        for i, sel in enumerate(selectors):
            eq = next((m for m in sel.matchers if m.op == "=" and m.value), None)
            if eq is None:
                self._rest.setdefault(sel.metric, []).append(i)
            else:
                self._by_label.setdefault((sel.metric, eq.name, eq.value), []).append(i)

    def candidates(self, metric: str, labels: dict[str, str]) -> list[int]:
        """Indices (ascending) of the selectors that may select the series; check each."""
        found = list(self._rest.get(metric, ()))
        for name, value in labels.items():
            found += self._by_label.get((metric, name, value), ())
        return sorted(found)


class SLOEvaluator:
    """Evaluates objectives over ingested samples. Not thread-safe: one writer at a time."""

    def __init__(self, specs: Sequence[SLOSpec]) -> None:
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"objective names must be unique; repeated: {', '.join(dupes)}")
        self._specs = list(specs)
        self._sides: list[_Side] = []
        self._side_ids: dict[tuple[str, float | None], int] = {}
        self._groups: list[_FreshGroup] = []
        self._group_ids: dict[tuple[str, int], int] = {}
        self._objectives: list[_Objective] = []
        self._slice_groups: list[_SliceGroup] = []
        slice_group_ids: dict[tuple[object, ...], int] = {}
        slice_args: tuple[list[int], list[float], list[float], list[int]] = ([], [], [], [])
        fresh_groups: list[int] = []
        fresh_args: tuple[list[float], list[float], list[int]] = ([], [], [])
        windows: list[int] = list(_BURN_MS)
        for spec in specs:
            obj = _Objective(spec, round(spec.window * 1000))
            obj.target = spec.target
            obj.budget = 1.0 - obj.target
            obj.window = format_duration(spec.window)
            obj.kind = spec.kind
            obj.dimension = spec.effective_dimension
            if obj.window_ms not in windows:
                windows.append(obj.window_ms)
            if spec.sli.ratio is not None:
                r = spec.sli.ratio
                obj.total = self._side(r.total, None)
                if r.errors is not None:
                    obj.errors = self._side(r.errors, None)
                if r.good is not None:
                    obj.good = self._side(r.good, None)
            elif spec.sli.latency is not None:
                lat = spec.sli.latency
                buckets = lat.histogram.with_metric(lat.histogram.metric + "_bucket")
                obj.total = self._side(buckets, math.inf)
                obj.good = self._side(buckets, lat.threshold)
            elif spec.sli.throughput is not None or spec.sli.gpu is not None:
                key, group = self._slice_group_of(spec.sli.throughput or spec.sli.gpu)
                if key not in slice_group_ids:
                    slice_group_ids[key] = len(self._slice_groups)
                    self._slice_groups.append(group)
                obj.slices = len(slice_args[0])
                obj.slice_group = slice_group_ids[key]
                slice_args[0].append(obj.slice_group)
                if spec.sli.throughput is not None:
                    slice_args[1].append(spec.sli.throughput.min_per_second)
                    slice_args[2].append(math.inf)
                else:
                    assert spec.sli.gpu is not None
                    slice_args[1].append(spec.sli.gpu.min)
                    slice_args[2].append(spec.sli.gpu.max)
                slice_args[3].append(math.ceil((spec.window + 86400.0) * 1000 / group.slice_ms))
            else:
                fr = spec.sli.freshness
                assert fr is not None
                key = (str(fr.last_success), round(fr.slice * 1000))
                if key not in self._group_ids:
                    self._group_ids[key] = len(self._groups)
                    self._groups.append(_FreshGroup(fr.last_success, key[1]))
                obj.freshness = len(fresh_groups)
                fresh_groups.append(self._group_ids[key])
                fresh_args[0].append(fr.max_age)
                fresh_args[1].append(fr.slice)
                fresh_args[2].append(math.ceil((spec.window + 86400.0) / fr.slice))
            self._objectives.append(obj)
        keep_minutes = round(max((s.window for s in specs), default=86400.0) / 60) + 1440
        self._counters = CounterSides(len(self._sides), keep_minutes=keep_minutes)
        self._fresh = FreshnessStore(fresh_groups, *fresh_args)
        self._slices = SliceStore(
            slice_args[0], [g.slice_ms for g in self._slice_groups], slice_args[1], slice_args[2], slice_args[3]
        )
        self._metrics = sorted(
            {s.selector.metric for s in self._sides} | {g.selector.metric for g in self._groups}
            | {g.selector.metric for g in self._slice_groups}
        )
        self._metric_set = frozenset(self._metrics)
        self._side_index = _SelectorIndex([s.selector for s in self._sides])
        self._group_index = _SelectorIndex([g.selector for g in self._groups])
        self._slice_index = _SelectorIndex([g.selector for g in self._slice_groups])
        # series: (metric, labels) -> id, or -1 for a series no objective reads
        self._series: dict[tuple[str, str], int] = {}
        self._ser_sides: list[list[int]] = []
        self._ser_groups: list[list[int]] = []
        self._ser_slices: list[list[int]] = []
        self._last_ts = np.zeros(0, dtype=np.int64)
        self._last_val = np.zeros(0, dtype=np.float64)
        self._csr: tuple[I64, I64] | None = None
        self._build_lookup_tables(windows)

    @staticmethod
    def _slice_group_of(sli: ThroughputSLI | GPUBandSLI | None) -> tuple[tuple[object, ...], _SliceGroup]:
        """The key and a new group for a throughput or GPU-band SLI."""
        if isinstance(sli, ThroughputSLI):
            slice_ms = round(sli.slice * 1000)
            return ("throughput", str(sli.counter), slice_ms), _SliceGroup("throughput", sli.counter, slice_ms)
        assert sli is not None
        slice_ms = round(sli.slice * 1000)
        key = ("gpu", str(sli.utilization), slice_ms, sli.aggregate, sli.by)
        return key, _SliceGroup("gpu", sli.utilization, slice_ms, sli.aggregate, sli.by)

    def _side(self, selector: Selector, le: float | None) -> int:
        key = (str(selector), le)
        sid = self._side_ids.get(key)
        if sid is None:
            sid = len(self._sides)
            self._side_ids[key] = sid
            self._sides.append(_Side(selector, le))
        return sid

    def _build_lookup_tables(self, windows: list[int]) -> None:
        """Index arrays that let ``evaluate`` compute every objective's ratios at once."""
        self._windows_ms = np.asarray(windows, dtype=np.int64)
        col = {w: i for i, w in enumerate(windows)}
        counter = [i for i, o in enumerate(self._objectives) if o.freshness < 0 and o.slices < 0]
        fresh = [i for i, o in enumerate(self._objectives) if o.freshness >= 0]
        sliced = [i for i, o in enumerate(self._objectives) if o.slices >= 0]
        objs = self._objectives

        def cols(idx: list[int]) -> I64:
            rows = [[col[w] for w in (*_BURN_MS, objs[i].window_ms)] for i in idx]
            return np.asarray(rows, dtype=np.int64).reshape(len(idx), len(_BURN_MS) + 1)

        self._c_idx = np.asarray(counter, dtype=np.int64)
        self._c_cols = cols(counter)
        self._c_total = np.asarray([objs[i].total for i in counter], dtype=np.int64)
        self._c_has_errors = np.asarray([objs[i].errors >= 0 for i in counter], dtype=np.bool_)
        self._c_other = np.asarray(
            [objs[i].errors if objs[i].errors >= 0 else objs[i].good for i in counter], dtype=np.int64
        )
        self._f_idx = np.asarray(fresh, dtype=np.int64)
        self._f_cols = cols(fresh)
        self._f_store = np.asarray([objs[i].freshness for i in fresh], dtype=np.int64)
        self._s_idx = np.asarray(sliced, dtype=np.int64)
        self._s_cols = cols(sliced)
        self._s_store = np.asarray([objs[i].slices for i in sliced], dtype=np.int64)
        self._budgets = np.asarray([o.budget for o in objs], dtype=np.float64)

    # -- what to read ----------------------------------------------------------------------

    def selectors(self) -> list[Selector]:
        """Distinct selectors the agent must read from the store (histograms as ``_bucket``)."""
        seen: dict[str, Selector] = {}
        for side in self._sides:
            seen.setdefault(str(side.selector), side.selector)
        for group in self._groups:
            seen.setdefault(str(group.selector), group.selector)
        for sg in self._slice_groups:
            seen.setdefault(str(sg.selector), sg.selector)
        return list(seen.values())

    def check_series(self, series: pl.DataFrame) -> list[str]:
        """Problems in the stored series (distinct ``metric``, ``labels``) the objectives rely on.

        A latency threshold that is not a bucket bound (naming the nearest bounds), a
        histogram whose buckets lack ``le="+Inf"``, GPU series lacking a ``by`` label, and — when
        the frame has a ``value`` column (samples) — GPU utilisation above 1 (a percentage).
        """
        pairs = series.select("metric", "labels").unique().rows()
        problems: list[str] = []
        for obj in self._objectives:
            lat = obj.spec.sli.latency
            if lat is None:
                continue
            bucket_sel = lat.histogram.with_metric(lat.histogram.metric + "_bucket")
            bounds: set[float] = set()
            for _metric, labels in bucket_sel.matching_series(pairs):
                le = _le_value(parse_labels(labels))
                if le is not None:
                    bounds.add(le)
            if not bounds:
                continue
            if math.inf not in bounds:
                problems.append(
                    f"objective {obj.spec.name!r}: histogram {bucket_sel} has no le=\"+Inf\" bucket, "
                    "so its total count is unknown"
                )
            if not any(_same_bound(b, lat.threshold) for b in bounds):
                lower = max((b for b in bounds if b < lat.threshold), default=None)
                upper = min((b for b in bounds if b > lat.threshold), default=None)
                problems.append(
                    f"objective {obj.spec.name!r}: latency threshold {format_duration(lat.threshold)} "
                    f"({lat.threshold:g}s) is not a bucket bound of {bucket_sel}; nearest bounds: "
                    f"lower {_fmt_bound(lower)}, upper {_fmt_bound(upper)}"
                )
        for obj in self._objectives:
            band = obj.spec.sli.gpu
            if band is not None:
                problems += _band_problems(obj.spec.name, band, series, pairs)
        return problems

    # -- ingest ----------------------------------------------------------------------------

    def _series_id(self, metric: str | None, labels: str | None) -> int:
        """The id of a series, registering it on first sight; -1 when no objective reads it."""
        if metric is None or labels is None:
            return -1
        key = (metric, labels)
        sid = self._series.get(key)
        if sid is not None:
            return sid
        sid = -1
        if metric in self._metric_set:
            parsed = parse_labels(labels)
            sides = [
                i for i in self._side_index.candidates(metric, parsed)
                if self._sides[i].selects(metric, parsed)
            ]
            groups = [
                i for i in self._group_index.candidates(metric, parsed)
                if self._groups[i].selector.matches(metric, parsed)
            ]
            slice_groups = [
                i for i in self._slice_index.candidates(metric, parsed)
                if self._slice_groups[i].selector.matches(metric, parsed)
            ]
            if sides or groups or slice_groups:
                sid = len(self._ser_sides)
                self._ser_sides.append(sides)
                self._ser_groups.append(groups)
                self._ser_slices.append(slice_groups)
                for i in slice_groups:
                    self._slice_groups[i].add_member(sid, parsed)
                for s in sides:
                    self._sides[s].members.append(sid)
                for g in groups:
                    self._groups[g].members.append(sid)
                if sid >= len(self._last_ts):
                    grow = max(64, 2 * len(self._last_ts))
                    self._last_ts = np.concatenate([self._last_ts, np.full(grow, NO_TS, dtype=np.int64)])
                    self._last_val = np.concatenate([self._last_val, np.full(grow, np.nan)])
        self._series[key] = sid
        return sid

    @staticmethod
    def _runs(samples: pl.DataFrame) -> tuple[I64, I64]:
        """Start and length of each run of rows with equal (metric, labels)."""
        # both columns at once (in parallel), each run-length list imploded to one row
        per_col = samples.select(
            pl.col(c).rle().struct.field("len").implode().alias(c) for c in ("labels", "metric")
        )
        ends = np.union1d(
            *(np.cumsum(per_col.get_column(c)[0].to_numpy().astype(np.int64)) for c in ("labels", "metric"))
        )
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        return starts, (ends - starts).astype(np.int64)

    def ingest(self, samples: pl.DataFrame) -> None:
        """Add samples (``SAMPLE_SCHEMA``, any series, any order).

        Series no objective selects are ignored, as are NaN values and samples not newer than
        what was already ingested for their series (of several with one timestamp in a batch,
        the first wins). Raises ``ValueError`` naming a missing or mistyped column.
        """
        for name, dtype in SAMPLE_SCHEMA.items():
            if name not in samples.schema:
                raise ValueError(
                    f"ingest: samples frame has no column {name!r} (expected {dict(SAMPLE_SCHEMA)})"
                )
            if samples.schema[name] != dtype:
                raise ValueError(f"ingest: column {name!r} is {samples.schema[name]}, expected {dtype}")
        if samples.height == 0 or not self._metrics:
            return
        if samples.get_column("timestamp").null_count():
            samples = samples.filter(pl.col("timestamp").is_not_null())
        starts, lengths = self._runs(samples)
        if len(starts) > max(_MAX_RUNS, samples.height // 16):
            samples = samples.sort("metric", "labels", "timestamp", maintain_order=True)
            starts, lengths = self._runs(samples)
        keys = samples.select(
            pl.col("metric").gather(pl.Series(starts)), pl.col("labels").gather(pl.Series(starts))
        ).rows()
        run_sid = np.fromiter((self._series_id(m, lb) for m, lb in keys), dtype=np.int64, count=len(keys))
        if not (run_sid >= 0).any():
            return
        ts = samples.get_column("timestamp").to_numpy()
        val = samples.get_column("value").to_numpy()
        per_side: set[int] | None = None
        if samples.height <= _SMALL_BATCH:
            batches, rows = self._small_batches(np.repeat(run_sid, lengths), ts, val)
            if rows is not None:
                per_side = self._ingest_sides_at_once(*rows)
        else:
            batches = self._large_batches(run_sid, starts, lengths, ts, val)
        if not batches:
            return
        self._ingest_sides(batches, per_side)
        self._ingest_freshness(batches)
        self._ingest_slices(batches)
        sids = np.fromiter(batches.keys(), dtype=np.int64, count=len(batches))
        self._last_ts[sids] = [int(b[0][-1]) for b in batches.values()]
        self._last_val[sids] = [float(b[1][-1]) for b in batches.values()]

    def _small_batches(
        self, sid: I64, ts: I64, val: F64
    ) -> tuple[dict[int, _Batch], tuple[I64, I64, F64] | None]:
        """Per series new rows, computed on whole arrays (a tick: one row per series); also the
        rows themselves (series, timestamp, increment), sorted by series and timestamp."""
        keep = (sid >= 0) & ~np.isnan(val)
        sid, ts, val = sid[keep], ts[keep], val[keep]
        order = np.lexsort((ts, sid))
        sid, ts, val = sid[order], ts[order], val[order]
        fresh = ts > self._last_ts[sid]
        fresh[1:] &= (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])  # the first of duplicates wins
        if not fresh.all():
            sid, ts, val = sid[fresh], ts[fresh], val[fresh]
        if len(sid) == 0:
            return {}, None
        bounds = np.flatnonzero(sid[1:] != sid[:-1]) + 1
        starts = np.concatenate([[0], bounds])
        first = np.zeros(len(sid), dtype=np.bool_)
        first[starts] = True
        inc = series_increments(first, val, self._last_val[sid])
        ends = np.append(bounds, len(sid))
        batches: dict[int, _Batch] = {
            s: (ts[a:b], val[a:b], inc[a:b])
            for s, a, b in zip(sid[starts].tolist(), starts.tolist(), ends.tolist(), strict=True)
        }
        return batches, (sid, ts, inc)

    def _series_sides(self) -> tuple[I64, I64]:
        """Series → sides as CSR arrays (pointer, side ids), rebuilt when series were added."""
        if self._csr is None or len(self._csr[0]) != len(self._ser_sides) + 1:
            counts = [len(x) for x in self._ser_sides]
            ptr = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
            flat = [s for x in self._ser_sides for s in x]
            self._csr = (ptr, np.asarray(flat, dtype=np.int64))
        return self._csr

    def _ingest_sides_at_once(self, sid: I64, ts: I64, inc: F64) -> set[int]:
        """Add every side that gets exactly one new timestamp (the usual tick) in one go.

        Returns the sides left for ``_ingest_sides``: several new timestamps, late points, or
        more than an hour since their newest point.
        """
        ptr, side_ids = self._series_sides()
        n_of = ptr[sid + 1] - ptr[sid]
        total = int(n_of.sum())
        if total == 0:
            return set()
        rep = np.repeat(np.arange(len(sid)), n_of)
        within = np.arange(total) - np.repeat(np.cumsum(n_of) - n_of, n_of)
        side = side_ids[ptr[sid[rep]] + within]
        t, d = ts[rep], inc[rep]
        order = np.lexsort((t, side))  # stable: one timestamp's rows stay in series order
        side, t, d = side[order], t[order], d[order]
        pair = np.flatnonzero(np.concatenate([[True], (side[1:] != side[:-1]) | (t[1:] != t[:-1])]))
        side_u, t_u, step = side[pair], t[pair], np.add.reduceat(d, pair)
        first = np.flatnonzero(np.concatenate([[True], side_u[1:] != side_u[:-1]]))
        points = np.diff(np.append(first, len(side_u)))
        s1, t1, step1 = side_u[first], t_u[first], step[first]
        counters = self._counters
        last = counters.last_ts[s1]
        has = last != NO_TS
        minutes = t1 // 60_000 - np.where(has, counters.last_minute[s1], t1 // 60_000 - 1)
        ok = (points == 1) & (~has | (t1 > last)) & (minutes <= 60)
        counters.append_points(s1[ok], t1[ok], step1[ok])
        return set(s1[~ok].tolist())

    def _large_batches(
        self, run_sid: I64, starts: I64, lengths: I64, ts_all: I64, val_all: F64
    ) -> dict[int, _Batch]:
        """Per series new rows, series by series on contiguous rows (a cold start)."""
        runs: dict[int, list[tuple[int, int]]] = {}
        for s, a, n in zip(run_sid.tolist(), starts.tolist(), lengths.tolist(), strict=True):
            if s >= 0:
                runs.setdefault(s, []).append((a, a + n))
        out: dict[int, _Batch] = {}
        for s, spans in runs.items():
            if len(spans) == 1:
                (a, b), = spans
                ts, val = ts_all[a:b], val_all[a:b]
            else:
                ts = np.concatenate([ts_all[a:b] for a, b in spans])
                val = np.concatenate([val_all[a:b] for a, b in spans])
            if math.isnan(float(val.sum())):  # cheaper than a mask when there is no NaN
                real = ~np.isnan(val)
                ts, val = ts[real], val[real]
            if len(ts) > 1 and not (ts[1:] > ts[:-1]).all():
                if not (ts[1:] >= ts[:-1]).all():
                    order = np.argsort(ts, kind="stable")
                    ts, val = ts[order], val[order]
                distinct = np.concatenate([[True], ts[1:] != ts[:-1]])  # the first of duplicates wins
                ts, val = ts[distinct], val[distinct]
            last = int(self._last_ts[s])
            if len(ts) and int(ts[0]) <= last:
                j = int(np.searchsorted(ts, last, side="right"))
                ts, val = ts[j:], val[j:]
            if len(ts):
                out[s] = (ts, val, None)
        return out

    def _increments(self, sid: int, val: F64) -> F64:
        """Reset-corrected increase of each of a series' new values (the first against the last
        value ingested before; nothing for a new series)."""
        inc = np.empty_like(val)
        if len(val) > 1:  # the step; a drop is a reset, where the increase is the value
            np.subtract(val[1:], val[:-1], out=inc[1:])
            drops = np.flatnonzero(inc[1:] < 0) + 1
            inc[drops] = val[drops]
        prev = float(self._last_val[sid])
        v0 = float(val[0])
        inc[0] = 0.0 if math.isnan(prev) else (v0 - prev if v0 >= prev else v0)
        return inc

    def _ingest_sides(self, batches: dict[int, _Batch], only: set[int] | None = None) -> None:
        """Add the new rows to their sides, side by side (``only`` these sides when given)."""
        touched: dict[int, list[int]] = {}
        if only is not None and not only:
            return
        for sid in batches:
            for s in self._ser_sides[sid]:
                if only is None or s in only:
                    touched.setdefault(s, []).append(sid)
        uses: dict[int, int] = {}
        for sids in touched.values():
            for sid in sids:
                uses[sid] = uses.get(sid, 0) + 1
        computed: dict[int, F64] = {}  # increments computed on demand, dropped after their last use
        side_last = self._counters.last_ts
        for s, sids in touched.items():
            last = int(side_last[s])
            parts: list[tuple[I64, F64]] = []
            late_t: list[I64] = []
            late_i: list[F64] = []
            for sid in sids:
                ts, val, given = batches[sid]
                inc = given if given is not None else computed.get(sid)
                if inc is None:
                    inc = self._increments(sid, val)
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
                lt, li = np.concatenate(late_t), np.concatenate(late_i)
                order = np.argsort(lt, kind="stable")
                lt, li = lt[order], li[order]
                distinct = np.concatenate([lt[1:] != lt[:-1], [True]])
                cum = np.cumsum(li)[distinct]
                self._counters.merge_late(s, lt[distinct], np.diff(cum, prepend=0.0))
            self._counters.append(s, parts)

    def _ingest_freshness(self, batches: dict[int, _Batch]) -> None:
        """Feed each touched group the min over its series (latest value of each) at each new
        timestamp; groups with a single new sample (the usual tick) all at once."""
        touched: dict[int, list[int]] = {}
        for sid in batches:
            for g in self._ser_groups[sid]:
                touched.setdefault(g, []).append(sid)
        single: tuple[list[int], list[int], list[float]] = ([], [], [])
        for g, members in touched.items():
            known = [
                s for s in self._groups[g].members
                if s not in batches and not math.isnan(float(self._last_val[s]))
            ]
            if len(members) == 1 and not known:
                ts_u, v_u = batches[members[0]][0], batches[members[0]][1]
            else:
                cols = members + known
                ts_u = np.unique(np.concatenate([batches[s][0] for s in members]))
                grid = np.full((len(ts_u), len(cols)), np.nan)
                for j, s in enumerate(members):
                    grid[np.searchsorted(ts_u, batches[s][0]), j] = batches[s][1]
                for j, s in enumerate(cols):
                    column = grid[:, j]
                    has = ~np.isnan(column)
                    idx = np.maximum.accumulate(np.where(has, np.arange(len(column)), -1))
                    grid[:, j] = np.where(idx >= 0, column[np.maximum(idx, 0)], self._last_val[s])
                v_u = np.fmin.reduce(grid, axis=1)
            newest = int(self._fresh.g_last_ts[g])
            if newest != NO_TS and int(ts_u[0]) <= newest:
                newer = ts_u > newest
                ts_u, v_u = ts_u[newer], v_u[newer]
            if len(ts_u) == 1:
                single[0].append(g)
                single[1].append(int(ts_u[0]))
                single[2].append(float(v_u[0]))
            else:
                self._fresh.add_steps(g, ts_u, v_u)
        if single[0]:
            groups = np.asarray(single[0], dtype=np.int64)
            ts1 = np.asarray(single[1], dtype=np.int64)
            left = self._fresh.add_points(groups, ts1, np.asarray(single[2], dtype=np.float64))
            for g in left.tolist():
                i = single[0].index(g)
                self._fresh.add_steps(g, ts1[i : i + 1], np.asarray(single[2][i : i + 1]))

    def _ingest_slices(self, batches: dict[int, _Batch]) -> None:
        """Summarise the slices of each touched throughput or GPU-band group: the open slice's rows
        with the new ones; every slice before the newest becomes final (``SliceStore.add``)."""
        touched: dict[int, list[int]] = {}
        for sid in batches:
            for g in self._ser_slices[sid]:
                touched.setdefault(g, []).append(sid)
        increments: dict[int, F64] = {}
        for g, sids in touched.items():
            grp = self._slice_groups[g]
            parts: list[tuple[I64, I64, F64, npt.NDArray[np.bool_]]] = []
            if grp.pending is not None:
                parts.append(grp.pending)
            for sid in sids:
                ts, val, inc = batches[sid]
                known = np.ones(len(ts), dtype=np.bool_)
                if grp.kind == "throughput":
                    if inc is None:
                        inc = increments.get(sid)
                        if inc is None:
                            inc = increments[sid] = self._increments(sid, val)
                    if math.isnan(float(self._last_val[sid])):
                        known[0] = False  # a series' first sample: no increase known
                    x = inc
                else:
                    x = val
                    grp.max_value = max(grp.max_value, float(val.max()))
                parts.append((np.full(len(ts), sid, dtype=np.int64), ts, x, known))
            sid_a = np.concatenate([p[0] for p in parts])
            ts_a = np.concatenate([p[1] for p in parts])
            x_a = np.concatenate([p[2] for p in parts])
            known_a = np.concatenate([p[3] for p in parts])
            if grp.pending is not None and grp.kind == "gpu":
                order = np.lexsort((ts_a, sid_a))  # the open slice's rows first: regroup by series
                sid_a, ts_a, x_a, known_a = sid_a[order], ts_a[order], x_a[order], known_a[order]
            k = slice_index(ts_a, grp.slice_ms)
            k_final = int(self._slices.g_k_final[g])
            if k_final != NO_SLICE and int(k.min()) <= k_final:
                keep = k > k_final  # rows of final slices arrive too late to count
                sid_a, ts_a, x_a, known_a, k = sid_a[keep], ts_a[keep], x_a[keep], known_a[keep], k[keep]
                if len(k) == 0:
                    continue
            k_first = k_final + 1 if k_final != NO_SLICE else int(k.min())
            k_last = int(k.max())
            n = k_last - k_first + 1
            if grp.kind == "throughput":
                counted, rate = throughput_slices(k, x_a, known_a, k_first, n, grp.slice_ms)
                low = high = rate
                rows = rate[:, None]
            else:
                pool = grp.pool_of[sid_a]
                counted, rows = band_slices(k, sid_a, x_a, pool, len(grp.pools), grp.aggregate, k_first, n)
                low, high = band_extremes(rows)
            self._slices.add(g, k_first, counted, low, high)
            if n > 1:
                grp.last_final = (k_last - 1, rows[-2].tolist())
            grp.open = (k_last, rows[-1].tolist())
            is_open = k == k_last
            grp.pending = (sid_a[is_open], ts_a[is_open], x_a[is_open], known_a[is_open])

    def _slice_reason(self, obj: _Objective, at_ms: int) -> str:
        """What the newest slice at or before ``at_ms`` says: a throughput's rate under its floor
        and its share of capacity, a GPU band's pools outside the band (waste or saturation)."""
        grp = self._slice_groups[obj.slice_group]
        latest = next(
            (r for r in (grp.open, grp.last_final) if r is not None and r[0] * grp.slice_ms <= at_ms), None
        )
        parts: list[str] = []
        th, band = obj.spec.sli.throughput, obj.spec.sli.gpu
        if latest is not None and th is not None:
            rate = latest[1][0]
            unit = format_duration(th.per)
            if rate < th.min_per_second:
                parts.append(
                    f"last {format_duration(grp.slice_ms / 1000)} slice at {rate * th.per:.3g} per {unit}, "
                    f"under the floor of {th.min_rate:g}"
                )
            if th.capacity is not None:
                parts.append(f"at {rate * th.per / th.capacity * 100:.0f}% of capacity")
        if band is not None:
            if latest is not None:
                agg = latest[1]  # NaN (a pool without samples) fails neither test
                for side, bad, bound, word in (
                    ("below", [i for i, v in enumerate(agg) if v < band.min], band.min, "waste"),
                    ("above", [i for i, v in enumerate(agg) if v > band.max], band.max, "saturation"),
                ):
                    if not bad:
                        continue
                    worst = min(bad, key=agg.__getitem__) if side == "below" else max(bad, key=agg.__getitem__)
                    more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
                    parts.append(
                        f"{side} {bound * 100:.0f}% ({word}) in {grp.pool_name(worst)} at {agg[worst] * 100:.0f}%{more}"
                    )
            if grp.max_value > 1.0:
                parts.append(_PERCENT_HINT)
        return "; ".join(parts)

    # -- evaluate --------------------------------------------------------------------------

    def _ratio_table(self, at_ms: int) -> tuple[F64, npt.NDArray[np.bool_], F64]:
        """Error ratios (burn windows, then the objective window) of every objective, whether
        each is known, and the events (or slices) in the objective window."""
        n = len(self._objectives)
        nw = len(_BURN_MS) + 1
        ratios = np.zeros((n, nw), dtype=np.float64)
        known = np.zeros((n, nw), dtype=np.bool_)
        events = np.zeros(n, dtype=np.float64)
        if len(self._c_idx):
            inc, ok = self._counters.increases(at_ms, self._windows_ms)
            cols = self._c_cols
            tot = inc[self._c_total[:, None], cols]
            tot_ok = ok[self._c_total[:, None], cols]
            other = inc[self._c_other[:, None], cols]
            other = np.where(ok[self._c_other[:, None], cols], other, 0.0)
            err = np.where(self._c_has_errors[:, None], other, np.where(tot_ok, tot - other, 0.0))
            r_ok = tot_ok & ~(tot <= 0)
            r = np.divide(err, tot, out=np.zeros_like(err), where=r_ok)
            ratios[self._c_idx] = np.minimum(np.maximum(r, 0.0), 1.0)
            known[self._c_idx] = r_ok
            events[self._c_idx] = np.where(r_ok[:, -1], tot[:, -1], 0.0)
        if len(self._f_idx):
            good, counted = self._fresh.counts(at_ms, self._windows_ms)
            g = good[self._f_store[:, None], self._f_cols]
            c = counted[self._f_store[:, None], self._f_cols]
            c_ok = c > 0
            share = np.divide(g, c, out=np.zeros(g.shape, dtype=np.float64), where=c_ok)
            ratios[self._f_idx] = np.where(c_ok, 1.0 - share, 0.0)
            known[self._f_idx] = c_ok
            events[self._f_idx] = c[:, -1].astype(np.float64)
        if len(self._s_idx):
            good, counted = self._slices.counts(at_ms, self._windows_ms)
            g = good[self._s_store[:, None], self._s_cols]
            c = counted[self._s_store[:, None], self._s_cols]
            c_ok = c > 0
            share = np.divide(g, c, out=np.zeros(g.shape, dtype=np.float64), where=c_ok)
            ratios[self._s_idx] = np.where(c_ok, 1.0 - share, 0.0)
            known[self._s_idx] = c_ok
            events[self._s_idx] = c[:, -1].astype(np.float64)
        return ratios, known, events

    def evaluate(self, at_ms: int) -> StatusReport:
        """Every objective at ``at_ms`` (data after it is ignored), ranked nearest to breaking first."""
        ratios, known, events = self._ratio_table(at_ms)
        burns = (ratios[:, :-1] / self._budgets[:, None]).astype(object)
        burns[~known[:, :-1]] = None
        burn_rows: list[list[float | None]] = burns.tolist()
        slo = ratios[:, -1]
        slo_known: list[bool] = known[:, -1].tolist()
        slis: list[float] = (1.0 - slo).tolist()
        budgets_left: list[float] = (1.0 - slo / self._budgets).tolist()
        event_list: list[float] = events.tolist()
        results = [
            self._result(
                obj, burn_rows[i], slo_known[i], slis[i], budgets_left[i], event_list[i],
                self._slice_reason(obj, at_ms) if obj.slices >= 0 else "",
            )
            for i, obj in enumerate(self._objectives)
        ]
        return StatusReport(
            at=at_ms / 1000.0,
            dimensions=tuple(rank_dimensions(results)),
            objectives=tuple(rank_objectives(results)),
        )

    def error_ratios(self, at_ms: int, name: str) -> dict[str, float | None]:
        """The error ratio per burn window and for the objective window (keyed ``"slo"``)."""
        index = next((i for i, o in enumerate(self._objectives) if o.spec.name == name), None)
        if index is None:
            raise KeyError(f"no objective named {name!r}")
        ratios, known, _ = self._ratio_table(at_ms)
        row = [r if k else None for r, k in zip(ratios[index].tolist(), known[index].tolist(), strict=True)]
        return {**dict(zip(BURN_WINDOWS, row[:-1], strict=True)), "slo": row[-1]}

    @staticmethod
    def _result(
        obj: _Objective, burns: list[float | None], slo_known: bool, sli: float, budget_left: float,
        events: float, detail: str = "",
    ) -> ObjectiveResult:
        """The frozen result from the objective's numbers (burn rates ``None`` where unknown);
        ``detail`` is appended to the reason."""
        spec = obj.spec
        burn_rates = dict(zip(BURN_WINDOWS, burns, strict=True))
        budget_remaining = ttb = None
        burn_window: str | None = None
        if slo_known:
            budget_remaining = budget_left
            for w, i in _TTB_COLUMNS:  # the first known of the 1h, 6h, 1d burn rates
                burn = burns[i]
                if burn is not None:
                    burn_window = w
                    break
            else:
                burn = None
            if budget_remaining <= 0:
                ttb = 0.0
            elif burn is not None and burn > 0:
                ttb = budget_remaining * spec.window / burn
        status, reason = classify(
            window=obj.window,
            window_seconds=spec.window,
            budget_remaining=budget_remaining,
            burn_rates=burn_rates,
            time_to_breach_s=ttb,
            burn_window=burn_window,
        )
        if detail:
            reason = f"{reason}; {detail}"
        return ObjectiveResult(
            name=spec.name,
            kind=obj.kind,
            dimension=obj.dimension,
            objective=obj.target,
            window=obj.window,
            window_seconds=spec.window,
            sli=sli if slo_known else None,
            budget_remaining=budget_remaining,
            burn_rates=burn_rates,
            time_to_breach_seconds=ttb,
            status=status,
            reason=reason,
            events=events if slo_known else 0.0,
        )

    def memory_bytes(self) -> int:
        """Bytes held by the cumulative arrays (sides, freshness, throughput and GPU-band slices).

        The rings are allocated whole when the evaluator is built (zero pages, resident as data
        arrives), so this is the size they reach once every side has a full window of data.
        """
        return self._counters.nbytes() + self._fresh.nbytes() + self._slices.nbytes()


_PERCENT_HINT = (
    "utilisation values above 1 look like a percentage; use a 0–1 ratio such as redline_gpu_utilization_ratio"
)


def _band_problems(name: str, band: GPUBandSLI, series: pl.DataFrame, pairs: list[tuple[str, str]]) -> list[str]:
    """A GPU band's series that lack a ``by`` label, or hold values above 1."""
    matched = band.utilization.matching_series(pairs)
    if not matched:
        return []
    problems: list[str] = []
    parsed = [parse_labels(labels) for _, labels in matched]
    for label in band.by:
        lacking = sum(label not in labels for labels in parsed)
        if lacking:
            problems.append(
                f"objective {name!r}: {lacking} of the {len(matched)} series of {band.utilization} have no "
                f"{label!r} label, so they are pooled together under an empty {label}"
            )
    if "value" in series.columns:
        rows = series.filter(
            pl.col("metric") == band.utilization.metric, pl.col("labels").is_in([lb for _, lb in matched])
        )
        top = rows.get_column("value").max()
        if isinstance(top, (int, float)) and top > 1:
            problems.append(f"objective {name!r}: {band.utilization} has values up to {top:g}: {_PERCENT_HINT}")
    return problems


def _fmt_bound(bound: float | None) -> str:
    if bound is None:
        return "none"
    if math.isinf(bound):
        return "+Inf"
    return f"{bound:g}s"
