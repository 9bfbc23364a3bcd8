"""The evaluator: samples in, a frozen ``StatusReport`` out. Pure: no I/O, no clock.

``SLOEvaluator`` keeps, per distinct *side* (a selector, plus a bucket bound for latency),
one reset-corrected cumulative count shared by every objective that reads it (``CounterSides``,
fed by ``slo.sides``), per freshness objective the cumulative count of good slices
(``FreshnessStore``, fed by ``slo.freshness_groups``), and per throughput or GPU-band objective
the same for its slices (``slo.slice_groups``).

``ingest`` takes any sample frame and cuts it into each series' new rows (``slo.series.batches``): a
small batch (a scrape tick) as whole arrays, a large one (a cold start) series by series on
contiguous rows. ``evaluate(at_ms)`` only looks things up: every side and window in one go,
every objective's ratios as arrays; Python only builds the frozen results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import Selector
from redline.kernel.units import parse_duration
from redline.slo.calendar import maintenance_intervals, period_bounds
from redline.slo.freshness_groups import FreshGroup, ingest_freshness
from redline.slo.freshness_store import FreshnessStore
from redline.slo.objective_result import TTB_BURN_WINDOWS, ResultBasis, objective_result
from redline.slo.query_sli import QueryEvaluator
from redline.slo.ranking import rank_dimensions, rank_objectives
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.series.batches import Batch, TickRows, large_batches, series_runs, small_batches
from redline.slo.series.cumulative import CounterSides
from redline.slo.series.index import SelectorIndex, SeriesIndex
from redline.slo.series.rows import csr
from redline.slo.sides import Side, histogram_problems, ingest_sides, ingest_sides_at_once
from redline.slo.slice_groups import SliceGroups, band_problems
from redline.slo.spec import BURN_WINDOWS, GPUBandSLI, SLOSpec, ThroughputSLI

__all__ = ["TTB_BURN_WINDOWS", "SLOEvaluator"]

_BURN_MS: tuple[int, ...] = tuple(round(parse_duration(w) * 1000) for w in BURN_WINDOWS)
_SMALL_BATCH = 50_000
"""Batches up to this many rows are handled as whole arrays, larger ones series by series."""
"""A frame with more runs of equal series than this (and than rows / 16) is sorted first."""
_DAY_MS = 86_400_000

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass
class _Objective(ResultBasis):
    window_ms: int = 0
    total: int = -1
    errors: int = -1
    good: int = -1
    freshness: int = -1  # index in the FreshnessStore
    slices: int = -1  # index in the SliceStore
    budget: float = 0.0
    slice_ms: int = 0  # time-slice kinds: a slice overlapping maintenance is dropped whole

    @property
    def special(self) -> bool:
        """Whether its windows need more than the shared lookups (a calendar period, maintenance)."""
        return self.spec.calendar is not None or bool(self.spec.maintenance)


class _CountsIn(Protocol):
    def __call__(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]: ...


class SLOEvaluator:
    """Evaluates objectives over ingested samples. Not thread-safe: one writer at a time."""

    def __init__(self, specs: Sequence[SLOSpec]) -> None:
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"objective names must be unique; repeated: {', '.join(dupes)}")
        self._specs = list(specs)
        self._query = QueryEvaluator([s for s in specs if s.sli.query is not None])
        specs = [s for s in specs if s.sli.query is None]
        self._sides: list[Side] = []
        self._side_ids: dict[tuple[str, float | None], int] = {}
        self._groups: list[FreshGroup] = []
        self._group_ids: dict[tuple[str, int], int] = {}
        self._objectives: list[_Objective] = []
        slis: list[tuple[ThroughputSLI | GPUBandSLI, float]] = []
        fresh_groups: list[int] = []
        fresh_args: tuple[list[float], list[float], list[int]] = ([], [], [])
        windows: list[int] = list(_BURN_MS)
        for spec in specs:
            obj = _Objective(spec, window_ms=round(spec.window * 1000))
            obj.budget = 1.0 - obj.target
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
                sli = spec.sli.throughput or spec.sli.gpu
                assert sli is not None
                obj.slices = len(slis)
                obj.slice_ms = round(sli.slice * 1000)
                obj.event_unit = "time slices"
                slis.append((sli, spec.window))
            else:
                fr = spec.sli.freshness
                assert fr is not None
                key = (str(fr.last_success), round(fr.slice * 1000))
                if key not in self._group_ids:
                    self._group_ids[key] = len(self._groups)
                    self._groups.append(FreshGroup(fr.last_success, key[1]))
                obj.freshness = len(fresh_groups)
                obj.slice_ms = key[1]
                obj.event_unit = "time slices"
                fresh_groups.append(self._group_ids[key])
                fresh_args[0].append(fr.max_age)
                fresh_args[1].append(fr.slice)
                fresh_args[2].append(math.ceil((spec.window + 86400.0) / fr.slice))
            self._objectives.append(obj)
        keep_minutes = round(max((s.window for s in specs), default=86400.0) / 60) + 1440
        self._counters = CounterSides(len(self._sides), keep_minutes=keep_minutes)
        self._fresh = FreshnessStore(fresh_groups, *fresh_args)
        self._slice_groups = SliceGroups(slis)
        slice_selectors = self._slice_groups.selectors()
        self._metrics = sorted(
            {s.selector.metric for s in self._sides} | {g.selector.metric for g in self._groups}
            | {s.metric for s in slice_selectors}
        )
        self._metric_set = frozenset(self._metrics)
        self._side_index = SelectorIndex([s.selector for s in self._sides])
        self._group_index = SelectorIndex([g.selector for g in self._groups])
        self._slice_index = SelectorIndex(slice_selectors)
        self._series = SeriesIndex(self._metrics, self._register)
        self._ser_sides: list[list[int]] = []
        self._ser_groups: list[list[int]] = []
        self._csr: tuple[I64, I64] | None = None
        self._build_lookup_tables(windows)

    def _side(self, selector: Selector, le: float | None) -> int:
        key = (str(selector), le)
        sid = self._side_ids.get(key)
        if sid is None:
            sid = len(self._sides)
            self._side_ids[key] = sid
            self._sides.append(Side(selector, le))
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
        self._window_cols = cols(list(range(len(objs))))
        # objectives with a calendar period or maintenance: positions within their block
        self._c_sp = np.asarray([p for p, i in enumerate(counter) if objs[i].special], dtype=np.int64)
        self._f_sp = np.asarray([p for p, i in enumerate(fresh) if objs[i].special], dtype=np.int64)
        self._s_sp = np.asarray([p for p, i in enumerate(sliced) if objs[i].special], dtype=np.int64)
        self._periods: dict[int, tuple[int, int]] = {}
        self._maintenance: dict[int, tuple[int, int, I64]] = {}

    # -- what to read ----------------------------------------------------------------------

    def selectors(self) -> list[Selector]:
        """Distinct selectors the agent must read from the store (histograms as ``_bucket``)."""
        seen: dict[str, Selector] = {}
        for side in self._sides:
            seen.setdefault(str(side.selector), side.selector)
        for group in self._groups:
            seen.setdefault(str(group.selector), group.selector)
        for sel in self._slice_groups.selectors() + self._query.selectors():
            seen.setdefault(str(sel), sel)
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
            if obj.spec.sli.latency is not None:
                problems += histogram_problems(obj.spec.name, obj.spec.sli.latency, pairs)
        for obj in self._objectives:
            if obj.spec.sli.gpu is not None:
                problems += band_problems(obj.spec.name, obj.spec.sli.gpu, series, pairs)
        return problems

    # -- ingest ----------------------------------------------------------------------------

    def _register(self, sid: int, metric: str, parsed: dict[str, str]) -> bool:
        """File a new series with the sides, freshness and slice groups that read it."""
        sides = [i for i in self._side_index.candidates(metric, parsed) if self._sides[i].selects(metric, parsed)]
        groups = self._group_index.matching(metric, parsed)
        slice_groups = self._slice_index.matching(metric, parsed)
        if not (sides or groups or slice_groups):
            return False
        self._ser_sides.append(sides)
        self._ser_groups.append(groups)
        if slice_groups:
            self._slice_groups.add_series(sid, slice_groups, parsed)
        for s in sides:
            self._sides[s].members.append(sid)
        for g in groups:
            self._groups[g].members.append(sid)
        return True

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
        self._query.ingest(samples)
        if samples.height == 0 or not self._metrics:
            return
        if samples.get_column("timestamp").null_count():
            samples = samples.filter(pl.col("timestamp").is_not_null())
        found = series_runs(samples, self._series.id_of)
        if found is None:
            return
        samples, starts, lengths, run_sid = found
        ts = samples.get_column("timestamp").to_numpy()
        val = samples.get_column("value").to_numpy()
        per_side: set[int] | None = None
        tick: TickRows | None = None
        batches: dict[int, Batch]
        if samples.height <= _SMALL_BATCH:
            n = self._series.n
            last_ts, last_val = self._series.last_ts[:n], self._series.last_val[:n]
            batches, tick = small_batches(np.repeat(run_sid, lengths), ts, val, last_ts, last_val)
            if tick is not None:
                per_side = ingest_sides_at_once(self._counters, self._series_sides(), tick[0], tick[1], tick[3])
        else:
            batches = large_batches(run_sid, starts, lengths, ts, val, self._series.last_ts)
        if not batches:
            return
        last_val = self._series.last_val
        ingest_sides(self._counters, self._ser_sides, batches, last_val, per_side)
        ingest_freshness(self._fresh, self._groups, self._ser_groups, batches, last_val)
        self._slice_groups.ingest(batches, tick, last_val)
        sids = np.fromiter(batches.keys(), dtype=np.int64, count=len(batches))
        self._series.remember_last(
            sids, [int(b[0][-1]) for b in batches.values()], [float(b[1][-1]) for b in batches.values()]
        )

    def _series_sides(self) -> tuple[I64, I64]:
        """Series → sides as CSR arrays (pointer, side ids), rebuilt when series were added."""
        if self._csr is None or len(self._csr[0]) != len(self._ser_sides) + 1:
            self._csr = csr(self._ser_sides)
        return self._csr

    # -- evaluate --------------------------------------------------------------------------

    def _period(self, i: int, at_ms: int) -> tuple[int, int]:
        """``(start_ms, end_ms)`` of calendar objective ``i``'s period containing ``at_ms``."""
        cached = self._periods.get(i)
        if cached is None or not cached[0] <= at_ms < cached[1]:
            cal = self._objectives[i].spec.calendar
            assert cal is not None
            cached = period_bounds(at_ms, cal.period, cal.timezone, cal.week_start)
            self._periods[i] = cached
        return cached

    def _period_starts(self, block: I64, sp: I64, at_ms: int) -> tuple[I64, I64]:
        """The block positions among ``sp`` of calendar objectives, and their periods' starts at ``at_ms``."""
        cal = [p for p in sp.tolist() if self._objectives[int(block[p])].spec.calendar is not None]
        starts = [self._period(int(block[p]), at_ms)[0] for p in cal]
        return np.asarray(cal, dtype=np.int64), np.asarray(starts, dtype=np.int64)

    def _maintenance_in(self, i: int, lo_ms: int, at_ms: int) -> I64:
        """Objective ``i``'s maintenance intervals (``m × 2``, disjoint) covering at least
        ``[lo_ms, at_ms]``; a time-slice objective's are lengthened by a slice less 1 ms, so that
        ``(lo, hi]`` holds the ends of the slices they overlap. Recomputed about once a day."""
        cached = self._maintenance.get(i)
        if cached is None or cached[0] > lo_ms or cached[1] < at_ms:
            obj = self._objectives[i]
            lo, hi = lo_ms - _DAY_MS, at_ms + _DAY_MS
            extend = obj.slice_ms - 1 if obj.slice_ms else 0
            found = maintenance_intervals(obj.spec.maintenance, lo, hi, extend_ms=extend)
            cached = (lo, hi, np.asarray(found, dtype=np.int64).reshape(len(found), 2))
            self._maintenance[i] = cached
        return cached[2]

    def _special_queries(self, block: I64, positions: I64, at_ms: int) -> tuple[I64, I64, I64, I64, I64]:
        """The sub-ranges to subtract for maintenance: (block position, window column, lo, hi) of
        each maintenance interval clipped to each window, and per position whether a window is
        all maintenance (``len(positions) × columns``, as int)."""
        full = np.zeros((len(positions), len(_BURN_MS) + 1), dtype=np.int64)
        which = [r for r, p in enumerate(positions.tolist()) if self._objectives[int(block[p])].spec.maintenance]
        if not which:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, full
        pos = positions[which]
        objs = block[pos]
        starts = at_ms - self._windows_ms[self._window_cols[objs]]
        for k, i in enumerate(objs.tolist()):
            if self._objectives[i].spec.calendar is not None:
                starts[k, -1] = self._period(i, at_ms)[0]
        earliest = starts.min(axis=1).tolist()
        parts = [self._maintenance_in(i, int(lo), at_ms) for i, lo in zip(objs.tolist(), earliest, strict=True)]
        owner = np.repeat(np.arange(len(objs)), [len(x) for x in parts])
        ints = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
        lo = np.maximum(ints[:, :1], starts[owner])
        hi = np.broadcast_to(np.minimum(ints[:, 1:], at_ms), lo.shape)
        inside = hi > lo
        q, cols = np.nonzero(inside)
        covered = np.zeros(starts.shape, dtype=np.int64)
        np.add.at(covered, owner, np.where(inside, hi - lo, 0))
        full[which] = covered >= at_ms - starts
        return pos[owner[q]], cols, lo[inside], hi[inside], full

    def _adjust_counters(self, at_ms: int, err: F64, tot: F64, tot_ok: npt.NDArray[np.bool_]) -> None:
        """Calendar periods and maintenance for the counter objectives that have them, in place."""
        sp = self._c_sp
        values_at = self._counters.values_at
        cal, start = self._period_starts(self._c_idx, sp, at_ms)
        if len(cal):
            sides = np.concatenate([self._c_total[cal], self._c_other[cal]])
            at_arr = np.full(len(sides), at_ms, dtype=np.int64)
            d = values_at(sides, at_arr) - values_at(sides, np.concatenate([start, start]))
            d_tot, d_other = d[: len(cal)], d[len(cal) :]
            tot[cal, -1] = d_tot
            err[cal, -1] = np.where(self._c_has_errors[cal], d_other, d_tot - d_other)
            tot_ok[cal, -1] = True
        rows, cols, lo, hi, full = self._special_queries(self._c_idx, sp, at_ms)
        if len(rows):
            t_side, o_side = self._c_total[rows], self._c_other[rows]
            d_tot = values_at(t_side, hi) - values_at(t_side, lo)
            d_other = values_at(o_side, hi) - values_at(o_side, lo)
            d_err = np.where(self._c_has_errors[rows], d_other, d_tot - d_other)
            np.subtract.at(tot, (rows, cols), d_tot)
            np.subtract.at(err, (rows, cols), d_err)
        t = np.maximum(tot[sp], 0.0)
        t[full.astype(np.bool_)] = 0.0
        tot[sp] = t
        err[sp] = np.minimum(np.maximum(err[sp], 0.0), t)

    def _adjust_slices(
        self, at_ms: int, block: I64, sp: I64, store_of: I64, counts_in: _CountsIn, good: I64, counted: I64
    ) -> None:
        """Calendar periods and maintenance for the time-slice objectives (block positions ``sp``) that
        have them, in place."""
        cal, start = self._period_starts(block, sp, at_ms)
        if len(cal):
            good[cal, -1], counted[cal, -1] = counts_in(store_of[cal], start, at_ms)
        rows, cols, lo, hi, _ = self._special_queries(block, sp, at_ms)
        if len(rows):
            g, c = counts_in(store_of[rows], lo, hi)
            np.subtract.at(good, (rows, cols), g)
            np.subtract.at(counted, (rows, cols), c)

    def _ratio_table(self, at_ms: int) -> tuple[F64, npt.NDArray[np.bool_], F64]:
        """Error ratios (burn windows, then the objective window) of every objective, whether
        each is known, and the events (or slices) in the objective window (maintenance excluded)."""
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
            if len(self._c_sp):
                self._adjust_counters(at_ms, err, tot, tot_ok)
            r_ok = tot_ok & ~(tot <= 0)
            r = np.divide(err, tot, out=np.zeros_like(err), where=r_ok)
            ratios[self._c_idx] = np.minimum(np.maximum(r, 0.0), 1.0)
            known[self._c_idx] = r_ok
            events[self._c_idx] = np.where(r_ok[:, -1], tot[:, -1], 0.0)
        if len(self._f_idx):
            good, counted = self._fresh.counts(at_ms, self._windows_ms)
            g = good[self._f_store[:, None], self._f_cols]
            c = counted[self._f_store[:, None], self._f_cols]
            if len(self._f_sp):
                self._adjust_slices(at_ms, self._f_idx, self._f_sp, self._f_store, self._fresh.counts_in, g, c)
            self._slice_ratios(self._f_idx, g, c, ratios, known, events)
        if len(self._s_idx):
            good, counted = self._slice_groups.store.counts(at_ms, self._windows_ms)
            g = good[self._s_store[:, None], self._s_cols]
            c = counted[self._s_store[:, None], self._s_cols]
            if len(self._s_sp):
                self._adjust_slices(
                    at_ms, self._s_idx, self._s_sp, self._s_store, self._slice_groups.store.counts_in, g, c
                )
            self._slice_ratios(self._s_idx, g, c, ratios, known, events)
        return ratios, known, events

    @staticmethod
    def _slice_ratios(idx: I64, g: I64, c: I64, ratios: F64, known: npt.NDArray[np.bool_], events: F64) -> None:
        c_ok = c > 0
        share = np.divide(g, c, out=np.zeros(g.shape, dtype=np.float64), where=c_ok)
        ratios[idx] = np.where(c_ok, 1.0 - share, 0.0)
        known[idx] = c_ok
        events[idx] = np.where(c_ok[:, -1], c[:, -1], 0).astype(np.float64)

    def evaluate(self, at_ms: int) -> StatusReport:
        """Every objective at ``at_ms`` (data after it is ignored), ranked nearest to breaking first."""
        results = self.results(at_ms)
        return StatusReport(
            at=at_ms / 1000.0,
            dimensions=tuple(rank_dimensions(results)),
            objectives=tuple(rank_objectives(results)),
        )

    def results(self, at_ms: int) -> list[ObjectiveResult]:
        """Every objective at ``at_ms``, unranked (in the order given, query SLIs last)."""
        ratios, known, events = self._ratio_table(at_ms)
        burns = (ratios[:, :-1] / self._budgets[:, None]).astype(object)
        burns[~known[:, :-1]] = None
        burn_rows: list[list[float | None]] = burns.tolist()
        slo = ratios[:, -1]
        slo_known: list[bool] = known[:, -1].tolist()
        slis: list[float] = (1.0 - slo).tolist()
        budgets_left: list[float] = (1.0 - slo / self._budgets).tolist()
        event_list: list[float] = events.tolist()
        reasons = self._slice_groups.reasons(at_ms) if len(self._s_idx) else []
        results = [
            objective_result(
                obj, burn_rows[i], slo_known[i], slis[i], budgets_left[i], event_list[i],
                reasons[obj.slices][0] if obj.slices >= 0 else "",
                self._period(i, at_ms) if obj.spec.calendar is not None else None, at_ms,
                reasons[obj.slices][1] if obj.slices >= 0 else None,
            )
            for i, obj in enumerate(self._objectives)
        ]
        return results + self._query.evaluate(at_ms)

    def error_ratios(self, at_ms: int, name: str) -> dict[str, float | None]:
        """The error ratio per burn window and for the objective window (keyed ``"slo"``)."""
        if name in self._query.names:
            return self._query.error_ratios(at_ms, name)
        index = next((i for i, o in enumerate(self._objectives) if o.spec.name == name), None)
        if index is None:
            raise KeyError(f"no objective named {name!r}")
        ratios, known, _ = self._ratio_table(at_ms)
        row = [r if k else None for r, k in zip(ratios[index].tolist(), known[index].tolist(), strict=True)]
        return {**dict(zip(BURN_WINDOWS, row[:-1], strict=True)), "slo": row[-1]}

    def memory_bytes(self) -> int:
        """Bytes held by the cumulative arrays (sides, freshness, throughput and GPU-band slices)
        and the recorded answers of query SLIs.

        The rings are allocated whole when the evaluator is built (zero pages, resident as data
        arrives), so this is the size they reach once every side has a full window of data.
        """
        return (
            self._counters.nbytes() + self._fresh.nbytes() + self._slice_groups.nbytes() + self._query.memory_bytes()
        )
