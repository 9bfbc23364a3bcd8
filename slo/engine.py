"""The evaluator: samples in, a frozen ``StatusReport`` out. Pure: no I/O, no clock.

``SLOEvaluator`` keeps, per counter series a distinct *side* reads (a selector, plus a bucket
bound for latency), its samples as Prometheus reads them (``slo.series.counters.SeriesCounters``);
a side's increase is the sum of its series' (``slo.sides.SideCounters``), shared by every
objective that reads it, per freshness objective the cumulative count of good slices
(``FreshnessStore``, fed by ``slo.freshness_groups``), and per throughput or GPU-band objective
the same for its slices (``slo.slice_groups``).

``ingest`` takes any sample frame and cuts it into each series' new rows (``slo.series.batches``): a
small batch (a scrape tick) as whole arrays, a large one (a cold start) series by series on
contiguous rows. ``evaluate(at_ms)`` only looks things up: every side and window in one go,
every objective's ratios as arrays; Python only builds the frozen results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import Selector
from redline.slo.freshness_groups import ingest_freshness
from redline.slo.freshness_store import FreshnessStore
from redline.slo.objective_plan import ObjectivePlan
from redline.slo.objective_result import TTB_BURN_WINDOWS, objective_result
from redline.slo.query_sli import QueryEvaluator
from redline.slo.ranking import rank_dimensions, rank_objectives
from redline.slo.ratio_table import RatioTable
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.series.batches import TickRows, large_batches, newest_rows, series_runs, tick_batches, tick_rows
from redline.slo.series.counters import SeriesCounters
from redline.slo.series.index import SelectorIndex, SeriesIndex
from redline.slo.series.layouts import FrameLayouts
from redline.slo.sides import SideCounters, histogram_problems, ingest_series_batches, ingest_series_rows
from redline.slo.slice_groups import SliceGroups, band_problems
from redline.slo.spec import BURN_WINDOWS, SLOSpec

__all__ = ["TTB_BURN_WINDOWS", "SLOEvaluator"]

_SMALL_BATCH = 50_000
"""Batches up to this many rows are handled as whole arrays, larger ones series by series."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class SLOEvaluator:
    """Evaluates objectives over ingested samples. Not thread-safe: one writer at a time."""

    def __init__(self, specs: Sequence[SLOSpec]) -> None:
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"objective names must be unique; repeated: {', '.join(dupes)}")
        self._query = QueryEvaluator([s for s in specs if s.sli.query is not None])
        plan = ObjectivePlan([s for s in specs if s.sli.query is None])
        self._objectives = plan.objectives
        self._sides = plan.sides
        self._groups = plan.groups
        self._series_counters = SeriesCounters(keep_minutes=plan.keep_minutes)
        self._counters = SideCounters(self._series_counters, len(self._sides))
        self._slot_of = np.zeros(0, dtype=np.int64)
        """Each series id's slot in ``_series_counters`` (-1: no side reads it)."""
        self._n_slots = 0
        fresh = plan.freshness
        self._fresh = FreshnessStore(fresh.groups, fresh.max_age_s, fresh.slice_s, fresh.keep_slices)
        self._slice_groups = SliceGroups(plan.slice_slis)
        slice_selectors = self._slice_groups.selectors()
        self._metrics = sorted(
            {s.selector.metric for s in self._sides} | {g.selector.metric for g in self._groups}
            | {s.metric for s in slice_selectors}
        )
        self._side_index = SelectorIndex([s.selector for s in self._sides])
        self._group_index = SelectorIndex([g.selector for g in self._groups])
        self._slice_index = SelectorIndex(slice_selectors)
        self._series = SeriesIndex(self._metrics, self._register)
        self._layouts = FrameLayouts()
        self._groups_of_series: list[list[int]] = []
        self._table = RatioTable(self._objectives, plan.windows_ms)

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore a checkpoint's state; one written before frame layouts were kept gets none yet."""
        self.__dict__.update(state)
        self.__dict__.setdefault("_layouts", FrameLayouts())

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
        self._groups_of_series.append(groups)
        if slice_groups:
            self._slice_groups.add_series(sid, slice_groups, parsed)
        if len(self._slot_of) <= sid:
            self._slot_of = np.concatenate([self._slot_of, np.full(max(64, len(self._slot_of)), -1, dtype=np.int64)])
        if sides:  # the counters grow to the slots at the next ingest (once for a cold start)
            slot = self._n_slots
            self._n_slots += 1
            self._slot_of[sid] = slot
            for s in sides:
                self._sides[s].members.append(sid)
                self._counters.join(s, slot)
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
        found = series_runs(samples, self._series.id_of, self._layouts)
        if found is None:
            return
        samples, starts, lengths, run_sid = found
        self._series_counters.grow(self._n_slots)
        ts = samples.get_column("timestamp").to_numpy()
        val = samples.get_column("value").to_numpy()
        if samples.height <= _SMALL_BATCH:
            known = self._series.n
            last_ts, last_val = self._series.last_ts[:known], self._series.last_val[:known]
            tick = tick_rows(np.repeat(run_sid, lengths), ts, val, last_ts, last_val)
            if tick is not None:
                self._ingest_tick(tick)
            return
        batches = large_batches(run_sid, starts, lengths, ts, val, self._series.last_ts)
        if not batches:
            return
        last_val = self._series.last_val
        ingest_series_batches(self._series_counters, self._slot_of, batches, last_val)
        ingest_freshness(self._fresh, self._groups, self._groups_of_series, batches, last_val)
        self._slice_groups.ingest(batches, None, last_val)
        sids = np.fromiter(batches.keys(), dtype=np.int64, count=len(batches))
        self._series.remember_last(
            sids, [int(times[-1]) for times, _, _ in batches.values()],
            [float(values[-1]) for _, values, _ in batches.values()],
        )

    def _ingest_tick(self, tick: TickRows) -> None:
        """A small batch's new rows (a scrape), as whole arrays. Only the freshness and slice
        groups, when there are any, see them cut per series."""
        ingest_series_rows(self._series_counters, self._slot_of, *tick)
        last_val = self._series.last_val
        if self._groups or self._slice_groups.groups:
            batches = tick_batches(tick)
            ingest_freshness(self._fresh, self._groups, self._groups_of_series, batches, last_val)
            self._slice_groups.ingest(batches, tick, last_val)
        sid, ts, val, _ = tick
        newest = newest_rows(sid)
        self._series.remember_last(sid[newest], ts[newest], val[newest])

    # -- evaluate --------------------------------------------------------------------------

    def evaluate(self, at_ms: int) -> StatusReport:
        """Every objective at ``at_ms`` (data after it is ignored), ranked nearest to breaking first."""
        results = self.results(at_ms)
        return StatusReport(
            at=at_ms / 1000.0,
            dimensions=tuple(rank_dimensions(results)),
            objectives=tuple(rank_objectives(results)),
        )

    def results(self, at_ms: int) -> list[ObjectiveResult]:
        """Every objective at ``at_ms``, unranked (in the order given, query SLIs last).

        With ``budget`` = 1 − target: burn rate over w = error ratio over w / budget; over the
        objective window, SLI = 1 − error ratio and budget left = 1 − error ratio / budget."""
        ratios, known, events = self._table.compute(at_ms, self._counters, self._fresh, self._slice_groups.store)
        burns = (ratios[:, :-1] / self._table.budgets[:, None]).astype(object)
        burns[~known[:, :-1]] = None
        burn_rows: list[list[float | None]] = burns.tolist()
        slo_ratio = ratios[:, -1]
        slo_known: list[bool] = known[:, -1].tolist()
        slis: list[float] = (1.0 - slo_ratio).tolist()
        budgets_left: list[float] = (1.0 - slo_ratio / self._table.budgets).tolist()
        event_list: list[float] = events.tolist()
        reasons = self._slice_groups.reasons(at_ms) if self._table.has_slices else []
        results = [
            objective_result(
                obj, burn_rows[i], slo_known[i], slis[i], budgets_left[i], event_list[i],
                reasons[obj.slices][0] if obj.slices >= 0 else "",
                self._table.special.period(i, at_ms) if obj.spec.calendar is not None else None, at_ms,
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
        ratios, known, _ = self._table.compute(at_ms, self._counters, self._fresh, self._slice_groups.store)
        row = [r if k else None for r, k in zip(ratios[index].tolist(), known[index].tolist(), strict=True)]
        return {**dict(zip(BURN_WINDOWS, row[:-1], strict=True)), "slo": row[-1]}

    def slice_counts(self, name: str, lo_ms: I64, hi_ms: I64) -> tuple[I64, I64]:
        """(good, counted) time slices of the freshness, throughput or GPU-band objective ``name``
        whose end lies in ``(lo_ms, hi_ms]``, element-wise, as ``evaluate`` reads its windows
        (calendar periods and maintenance aside): the backtest reads many past windows at once.

        Raises ``KeyError`` for an unknown objective, ``ValueError`` for one of another kind."""
        obj = next((o for o in self._objectives if o.spec.name == name), None)
        if obj is None:
            raise KeyError(f"no objective named {name!r}")
        if obj.freshness >= 0:
            return self._fresh.counts_in(np.full(lo_ms.shape, obj.freshness), lo_ms, hi_ms)
        if obj.slices >= 0:
            return self._slice_groups.store.counts_in(np.full(lo_ms.shape, obj.slices), lo_ms, hi_ms)
        raise ValueError(f"objective {name!r} is of kind {obj.spec.kind!r}, not a time-slice kind")

    def memory_bytes(self) -> int:
        """Bytes held by the cumulative arrays (sides, freshness, throughput and GPU-band slices)
        and the recorded answers of query SLIs.

        The rings are allocated whole when the evaluator is built (zero pages, resident as data
        arrives), so this is the size they reach once every side has a full window of data.
        """
        return (
            self._series_counters.nbytes() + self._fresh.nbytes() + self._slice_groups.nbytes()
            + self._query.memory_bytes()
        )
