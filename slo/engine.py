"""The evaluator: samples in, a frozen ``StatusReport`` out. Pure: no I/O, no clock.

``SLOEvaluator`` keeps, per distinct *side* (a selector, plus a bucket bound for latency),
one reset-corrected cumulative count shared by every objective that reads it, and per
freshness objective the cumulative count of good slices. ``ingest`` takes any sample frame
(cold start from 30 days or one scrape tick, same code path, vectorised per batch);
``evaluate(at_ms)`` only looks things up, so a tick costs the same whatever the history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from slo.cumulative import CounterAggregate, FreshnessSlices, series_increments
from slo.ranking import classify, rank_dimensions, rank_objectives
from slo.results import ObjectiveResult, StatusReport
from slo.spec import BURN_WINDOWS, SLOSpec
from store.types import SAMPLE_SCHEMA, Selector, format_duration, parse_duration, parse_labels

__all__ = ["TTB_BURN_WINDOWS", "SLOEvaluator"]

TTB_BURN_WINDOWS: tuple[str, ...] = ("1h", "6h", "1d")
"""Burn windows used for time to breach, first available wins."""

_BURN_MS: tuple[int, ...] = tuple(round(parse_duration(w) * 1000) for w in BURN_WINDOWS)


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
    agg: CounterAggregate
    windows_ms: list[int] = field(default_factory=list)

    def selects(self, metric: str, labels: dict[str, str]) -> bool:
        if not self.selector.matches(metric, labels):
            return False
        if self.le is None:
            return True
        le = _le_value(labels)
        return le is not None and _same_bound(le, self.le)


@dataclass
class _Freshness:
    selector: Selector
    slices: FreshnessSlices
    members: list[int] = field(default_factory=list)


@dataclass
class _Objective:
    spec: SLOSpec
    window_ms: int
    total: int = -1
    errors: int = -1
    good: int = -1
    freshness: int = -1


@dataclass
class _Series:
    sides: list[int]
    freshness: list[int]
    last_ts: int = -(2**62)
    last_value: float = math.nan


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
        self._fresh: list[_Freshness] = []
        self._objectives: list[_Objective] = []
        keep_minutes = round(max((s.window for s in specs), default=86400.0) / 60) + 1440
        for spec in specs:
            obj = _Objective(spec, round(spec.window * 1000))
            if spec.sli.ratio is not None:
                r = spec.sli.ratio
                obj.total = self._side(r.total, None, keep_minutes, obj.window_ms)
                if r.errors is not None:
                    obj.errors = self._side(r.errors, None, keep_minutes, obj.window_ms)
                if r.good is not None:
                    obj.good = self._side(r.good, None, keep_minutes, obj.window_ms)
            elif spec.sli.latency is not None:
                lat = spec.sli.latency
                buckets = lat.histogram.with_metric(lat.histogram.metric + "_bucket")
                obj.total = self._side(buckets, math.inf, keep_minutes, obj.window_ms)
                obj.good = self._side(buckets, lat.threshold, keep_minutes, obj.window_ms)
            else:
                fr = spec.sli.freshness
                assert fr is not None
                keep_slices = math.ceil((spec.window + 86400.0) / fr.slice)
                obj.freshness = len(self._fresh)
                self._fresh.append(
                    _Freshness(fr.last_success, FreshnessSlices(fr.max_age, fr.slice, keep_slices))
                )
            self._objectives.append(obj)
        self._metrics = sorted(
            {s.selector.metric for s in self._sides} | {f.selector.metric for f in self._fresh}
        )
        self._series: dict[tuple[str, str], int] = {}
        self._series_state: list[_Series] = []
        self._registry = pl.DataFrame(schema={"metric": pl.String, "labels": pl.String, "sid": pl.Int64})

    def _side(self, selector: Selector, le: float | None, keep_minutes: int, window_ms: int) -> int:
        key = (str(selector), le)
        sid = self._side_ids.get(key)
        if sid is None:
            sid = len(self._sides)
            self._side_ids[key] = sid
            agg = CounterAggregate(coarse_keep_minutes=keep_minutes)
            self._sides.append(_Side(selector, le, agg, list(_BURN_MS)))
        side = self._sides[sid]
        if window_ms not in side.windows_ms:
            side.windows_ms.append(window_ms)
        return sid

    # -- what to read ----------------------------------------------------------------------

    def selectors(self) -> list[Selector]:
        """Distinct selectors the agent must read from the store (histograms as ``_bucket``)."""
        seen: dict[str, Selector] = {}
        for side in self._sides:
            seen.setdefault(str(side.selector), side.selector)
        for fr in self._fresh:
            seen.setdefault(str(fr.selector), fr.selector)
        return list(seen.values())

    def check_series(self, series: pl.DataFrame) -> list[str]:
        """Problems in the stored series (distinct ``metric``, ``labels``) the objectives rely on.

        A latency threshold that is not a bucket bound (naming the nearest bounds) and a
        histogram whose buckets lack ``le="+Inf"``.
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
        return problems

    # -- ingest ----------------------------------------------------------------------------

    def _register(self, pairs: list[tuple[str, str]]) -> None:
        new_rows: list[tuple[str, str, int]] = []
        for metric, labels in pairs:
            if (metric, labels) in self._series:
                continue
            parsed = parse_labels(labels)
            sides = [i for i, s in enumerate(self._sides) if s.selects(metric, parsed)]
            fresh = [i for i, f in enumerate(self._fresh) if f.selector.matches(metric, parsed)]
            sid = len(self._series_state)
            self._series[(metric, labels)] = sid
            self._series_state.append(_Series(sides, fresh))
            for f in fresh:
                self._fresh[f].members.append(sid)
            new_rows.append((metric, labels, sid))
        if new_rows:
            extra = pl.DataFrame(new_rows, schema=self._registry.schema, orient="row")
            self._registry = pl.concat([self._registry, extra])

    def ingest(self, samples: pl.DataFrame) -> None:
        """Add samples (``SAMPLE_SCHEMA``, any series, any order).

        Series no objective selects are ignored, as are NaN values and samples not newer than
        what was already ingested for their series. Raises ``ValueError`` naming a missing or
        mistyped column.
        """
        for name, dtype in SAMPLE_SCHEMA.items():
            if name not in samples.schema:
                raise ValueError(
                    f"ingest: samples frame has no column {name!r} (expected {dict(SAMPLE_SCHEMA)})"
                )
            if samples.schema[name] != dtype:
                raise ValueError(f"ingest: column {name!r} is {samples.schema[name]}, expected {dtype}")
        rows = samples.lazy().filter(
            pl.col("metric").is_in(self._metrics)
            & pl.col("value").is_not_null()
            & pl.col("value").is_not_nan()
        )
        pairs = rows.select("metric", "labels").unique().collect().rows()
        if not pairs:
            return
        self._register(pairs)
        keyed = (
            rows.join(self._registry.lazy(), on=["metric", "labels"], how="inner")
            .select("sid", "timestamp", "value")
            .sort("sid", "timestamp", maintain_order=True)
            .collect()
        )
        sid = keyed.get_column("sid").to_numpy()
        ts = keyed.get_column("timestamp").to_numpy()
        val = keyed.get_column("value").to_numpy()
        states = self._series_state
        last_ts = np.fromiter((s.last_ts for s in states), dtype=np.int64, count=len(states))
        fresh_enough = ts > last_ts[sid]
        # duplicates of (series, timestamp): the first in the batch wins
        fresh_enough[1:] &= (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
        if not fresh_enough.all():
            sid, ts, val = sid[fresh_enough], ts[fresh_enough], val[fresh_enough]
        if len(sid) == 0:
            return
        bounds = np.flatnonzero(np.diff(sid)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(sid)]])
        first = np.zeros(len(sid), dtype=np.bool_)
        first[starts] = True
        prev_last = np.fromiter((s.last_value for s in states), dtype=np.float64, count=len(states))
        inc = series_increments(first, val, prev_last[sid])

        ranges: dict[int, tuple[int, int]] = {}
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            ranges[int(sid[a])] = (a, b)
        side_rows: dict[int, list[tuple[int, int]]] = {}
        fresh_series: dict[int, list[int]] = {}
        for s, (a, b) in ranges.items():
            st = states[s]
            for side in st.sides:
                side_rows.setdefault(side, []).append((a, b))
            for f in st.freshness:
                fresh_series.setdefault(f, []).append(s)
        for side_id, spans in side_rows.items():
            if len(spans) == 1:
                a, b = spans[0]
                self._sides[side_id].agg.add(ts[a:b], inc[a:b])
            else:
                self._sides[side_id].agg.add(
                    np.concatenate([ts[a:b] for a, b in spans]), np.concatenate([inc[a:b] for a, b in spans])
                )
        for f_id, members in fresh_series.items():
            self._add_freshness(f_id, members, ranges, ts, val)
        for s, (_a, b) in ranges.items():
            states[s].last_ts = int(ts[b - 1])
            states[s].last_value = float(val[b - 1])

    def _add_freshness(
        self,
        f_id: int,
        members: list[int],
        ranges: dict[int, tuple[int, int]],
        ts: npt.NDArray[np.int64],
        val: npt.NDArray[np.float64],
    ) -> None:
        """Feed the min over the objective's series (latest value of each) at each new timestamp."""
        slices = self._fresh[f_id].slices
        known = [
            s for s in self._fresh[f_id].members
            if s not in ranges and not math.isnan(self._series_state[s].last_value)
        ]
        if len(members) == 1 and not known:
            a, b = ranges[members[0]]
            ts_u, v_u = ts[a:b], val[a:b]
        else:
            cols = members + known
            parts = [ts[ranges[s][0] : ranges[s][1]] for s in members]
            ts_u = np.unique(np.concatenate(parts))
            grid = np.full((len(ts_u), len(cols)), np.nan)
            for j, s in enumerate(members):
                a, b = ranges[s]
                grid[np.searchsorted(ts_u, ts[a:b]), j] = val[a:b]
            for j, s in enumerate(cols):
                col = grid[:, j]
                has = ~np.isnan(col)
                idx = np.maximum.accumulate(np.where(has, np.arange(len(col)), -1))
                filled = np.where(idx >= 0, col[np.maximum(idx, 0)], self._series_state[s].last_value)
                grid[:, j] = filled
            v_u = np.fmin.reduce(grid, axis=1)
        if slices.last_ts is not None:
            newer = ts_u > slices.last_ts
            ts_u, v_u = ts_u[newer], v_u[newer]
        slices.add_steps(ts_u, v_u)

    # -- evaluate --------------------------------------------------------------------------

    def evaluate(self, at_ms: int) -> StatusReport:
        """Every objective at ``at_ms`` (data after it is ignored), ranked nearest to breaking first."""
        side_incs = [s.agg.increases(at_ms, s.windows_ms) for s in self._sides]
        results = [self._evaluate_one(obj, at_ms, side_incs) for obj in self._objectives]
        return StatusReport(
            at=at_ms / 1000.0,
            dimensions=tuple(rank_dimensions(results)),
            objectives=tuple(rank_objectives(results)),
        )

    def error_ratios(self, at_ms: int, name: str) -> dict[str, float | None]:
        """The error ratio per burn window and for the objective window (keyed ``"slo"``)."""
        obj = next((o for o in self._objectives if o.spec.name == name), None)
        if obj is None:
            raise KeyError(f"no objective named {name!r}")
        side_incs = [s.agg.increases(at_ms, s.windows_ms) for s in self._sides]
        ratios, _ = self._ratios(obj, at_ms, side_incs)
        return {**dict(zip(BURN_WINDOWS, ratios[:-1], strict=True)), "slo": ratios[-1]}

    def _ratios(
        self, obj: _Objective, at_ms: int, side_incs: list[list[float | None]]
    ) -> tuple[list[float | None], float]:
        """Error ratios for the burn windows then the objective window, and the window's events."""
        windows = [*_BURN_MS, obj.window_ms]
        if obj.freshness >= 0:
            slices = self._fresh[obj.freshness].slices
            out: list[float | None] = []
            counted = 0
            for w in windows:
                good, counted = slices.count(at_ms, w)
                out.append(1.0 - good / counted if counted else None)
            return out, float(counted)
        total_side = self._sides[obj.total]
        tot_all = side_incs[obj.total]
        ratios: list[float | None] = []
        events = 0.0
        for w in windows:
            tot = tot_all[total_side.windows_ms.index(w)]
            if obj.errors >= 0:
                side = self._sides[obj.errors]
                err = side_incs[obj.errors][side.windows_ms.index(w)] or 0.0
            else:
                side = self._sides[obj.good]
                good_inc = side_incs[obj.good][side.windows_ms.index(w)] or 0.0
                err = (tot - good_inc) if tot is not None else 0.0
            if tot is None or tot <= 0:
                ratios.append(None)
                events = 0.0
            else:
                ratios.append(min(max(err / tot, 0.0), 1.0))
                events = tot
        return ratios, events

    def _evaluate_one(
        self, obj: _Objective, at_ms: int, side_incs: list[list[float | None]]
    ) -> ObjectiveResult:
        spec = obj.spec
        budget = 1.0 - spec.target
        ratios, events = self._ratios(obj, at_ms, side_incs)
        burn_rates = {
            w: (None if r is None else r / budget) for w, r in zip(BURN_WINDOWS, ratios, strict=False)
        }
        slo_ratio = ratios[-1]
        window = format_duration(spec.window)
        sli = budget_remaining = ttb = None
        burn_window: str | None = None
        if slo_ratio is not None:
            sli = 1.0 - slo_ratio
            budget_remaining = 1.0 - slo_ratio / budget
            burn_window = next((w for w in TTB_BURN_WINDOWS if burn_rates[w] is not None), None)
            burn = burn_rates[burn_window] if burn_window is not None else None
            if budget_remaining <= 0:
                ttb = 0.0
            elif burn is not None and burn > 0:
                ttb = budget_remaining * spec.window / burn
        status, reason = classify(
            window=window,
            window_seconds=spec.window,
            budget_remaining=budget_remaining,
            burn_rates=burn_rates,
            time_to_breach_s=ttb,
            burn_window=burn_window,
        )
        return ObjectiveResult(
            name=spec.name,
            kind=spec.kind,
            dimension=spec.effective_dimension,
            objective=spec.target,
            window=window,
            window_seconds=spec.window,
            sli=sli,
            budget_remaining=budget_remaining,
            burn_rates=burn_rates,
            time_to_breach_seconds=ttb,
            status=status,
            reason=reason,
            events=events if slo_ratio is not None else 0.0,
        )

    def memory_bytes(self) -> int:
        """Bytes held by the cumulative arrays (sides and freshness slices)."""
        return sum(s.agg.nbytes() for s in self._sides) + sum(f.slices.nbytes() for f in self._fresh)


def _fmt_bound(bound: float | None) -> str:
    if bound is None:
        return "none"
    if math.isinf(bound):
        return "+Inf"
    return f"{bound:g}s"
