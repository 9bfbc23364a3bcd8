"""Backtest: replay the multiwindow alert policy over stored history, list every page and ticket.

At every step ``start, start + step, …, end`` the objectives' burn rates are computed exactly as
the live agent would have computed them at that instant, and the policy applied with the
semantics of ``alerts/policy.py``: a condition holds when the burn rates over *both* its windows
are strictly above its factor (``slo.ranking.alert_factor`` for the objective's window), a
missing burn rate never holds, and an objective with no data never fires. Each tier goes through
``slo.hysteresis`` as the live policy steps it (``for:``, the resolve delay, and a step without
data moving nothing), and a page inhibits a ticket that was not already open. An alert is one
per objective and severity: an *episode* starts at the first step where any tier of that
severity fires (and is not inhibited) and ends at the first step where none does (``end_ms``
``None``: still firing at the end of the range). ``hysteresis=False`` replays the bare
conditions instead, as the policy was before ``for:`` and the resolve delay.

How the history is replayed (``SLOEvaluator.evaluate(at_ms)`` accepts past times, but only
within its retention: its coarse tier keeps the objective window plus a day, and its fine tier,
which gives windows up to 6 h Prometheus' extrapolation, the last 7 h before the newest
sample; after a full ingest, earlier instants would silently read clamped or coarse values):

- **counter kinds** (ratio and latency objectives): vectorised over all steps at once. A side
  (a selector, plus a bucket bound) is the sum of its series' Prometheus 2.42 ``increase`` over
  each window (``slo.series.increase.increases_at_steps``), computed on every sample: what the
  engine computes on its exact tier (windows up to 6 h). Longer windows the engine reads from
  its minute ring, so burn rates agree with it to ~1e-7 relative where series are scraped on
  minute boundaries, and to a fraction of a percent where a window starts in a sharp change of
  a faster-scraped series (a tie exactly at a factor could differ).
- **time-slice kinds** (freshness, throughput, GPU band) on a rolling window: the
  ``SLOEvaluator`` itself, fed the history in chunks of half a day, every window of every step
  of a chunk read at once after it (``slo.backtest_slices``: what the live sequence reads at each
  step); their ratios do not depend on the target, so both sides of a ``compare`` share them.
- **everything else** (calendar windows, maintenance, low-traffic floors, query SLIs): the
  ``SLOEvaluator`` ingesting the history progressively in time order up to each step and
  evaluating there — the live agent's own sequence, one ``evaluate`` per step (~3 ms).

``for:``, the resolve delay and inhibition are replayed on runs of steps
(``slo.hysteresis_replay``), equal to ``slo.hysteresis.step`` applied step by step.
``slo.backtest_reference`` keeps the previous way (every time-slice objective through the
evaluator step by step, the hysteresis one step at a time) as the measure the tests hold this to.

Detection delay: ``start_ms`` minus the moment the budget burn began, taken as the last step
at or before the episode's start at which the 1 h burn rate rose above 1.0 (from at most 1.0
or unknown at the previous step); when it was already above 1.0 at the first step of the
range, the range start (the delay is then a lower bound); ``None`` when it never rose above 1.0
at or before the start.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import Selector, parse_labels
from redline.kernel.units import parse_duration
from redline.slo import hysteresis, hysteresis_replay
from redline.slo.alert_tiers import SEVERITY_ORDER, objective_tiers
from redline.slo.backtest_slices import SliceRatios, fits, slice_ratios, target_free_key
from redline.slo.engine import SLOEvaluator
from redline.slo.ranking import alert_factor, format_age
from redline.slo.series.increase import increases_at_steps, series_increments, window_indexes
from redline.slo.sides import le_value, same_bound
from redline.slo.spec import BURN_WINDOWS, SLOSpec

__all__ = [
    "BacktestComparison",
    "BacktestReport",
    "Condition",
    "Episode",
    "ObjectiveSummary",
    "Shared",
    "backtest",
    "compare",
    "run_backtest",
    "run_compare",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

_DELAY_WINDOW = "1h"


class Condition(Protocol):
    """A multiwindow burn-rate condition (``slo.ranking.BurnRateCondition``)."""

    @property
    def severity(self) -> str: ...
    @property
    def long_window(self) -> str: ...
    @property
    def short_window(self) -> str: ...
    @property
    def budget_share(self) -> float: ...
    @property
    def for_seconds(self) -> float: ...
    @property
    def keep_firing_for_seconds(self) -> float: ...


@dataclass(frozen=True)
class Episode:
    """One alert the policy would have sent: from ``start_ms`` to ``end_ms`` (``None``: still firing)."""

    slo: str
    severity: str
    start_ms: int
    end_ms: int | None
    detection_delay_s: float | None
    peak_burn: float
    """The highest long-window burn rate of the severity's conditions during the episode."""

    def to_json(self) -> dict[str, Any]:
        """Times as Unix seconds."""
        return {
            "slo": self.slo,
            "severity": self.severity,
            "start": self.start_ms / 1000.0,
            "end": None if self.end_ms is None else self.end_ms / 1000.0,
            "detection_delay_seconds": self.detection_delay_s,
            "peak_burn": self.peak_burn,
        }


@dataclass(frozen=True)
class ObjectiveSummary:
    """Pages and tickets of one objective; ``status`` ``no_data`` when it never had data in the range."""

    slo: str
    pages: int
    tickets: int
    status: Literal["paged", "ticketed", "quiet", "no_data"]

    def to_json(self) -> dict[str, Any]:
        """``{"slo", "pages", "tickets", "status"}``."""
        return {"slo": self.slo, "pages": self.pages, "tickets": self.tickets, "status": self.status}


@dataclass(frozen=True)
class BacktestReport:
    """Every page and ticket over ``[start_ms, end_ms]`` at ``step_ms``, and a summary per objective."""

    start_ms: int
    end_ms: int
    step_ms: int
    episodes: tuple[Episode, ...]
    summary: tuple[ObjectiveSummary, ...]
    policy: tuple[tuple[str, str, str, float], ...] = field(default=())
    """(severity, long window, short window, budget share) of each condition replayed."""

    def to_json(self) -> dict[str, Any]:
        """The ``backtest --json`` object."""
        return {
            "start": self.start_ms / 1000.0,
            "end": self.end_ms / 1000.0,
            "step_seconds": self.step_ms / 1000.0,
            "policy": [
                {"severity": s, "long_window": lw, "short_window": sw, "budget_share": b}
                for s, lw, sw, b in self.policy
            ],
            "episodes": [e.to_json() for e in self.episodes],
            "summary": [s.to_json() for s in self.summary],
        }

    def to_text(self) -> str:
        """A table of episodes (times UTC) and the summary per objective."""
        lines = [f"{'SLO':<32} {'SEVERITY':<8} {'START (UTC)':<17} {'END (UTC)':<17} {'LASTED':>8} "
                 f"{'DETECTED AFTER':>14} {'PEAK BURN':>9}"]
        for e in self.episodes:
            end = _utc(e.end_ms) if e.end_ms is not None else "firing"
            lasted = format_age((e.end_ms - e.start_ms) / 1000.0) if e.end_ms is not None else "-"
            delay = format_age(e.detection_delay_s) if e.detection_delay_s is not None else "-"
            lines.append(f"{e.slo:<32} {e.severity:<8} {_utc(e.start_ms):<17} {end:<17} {lasted:>8} "
                         f"{delay:>14} {e.peak_burn:>8.1f}×")
        if not self.episodes:
            lines.append("(no page or ticket would have been sent)")
        lines.append("")
        lines.append(f"{'SLO':<32} {'PAGES':>5} {'TICKETS':>7}  STATUS")
        for s in self.summary:
            lines.append(f"{s.slo:<32} {s.pages:>5} {s.tickets:>7}  {s.status}")
        return "\n".join(lines)


@dataclass(frozen=True)
class BacktestComparison:
    """Two backtests of the same history side by side (e.g. the current objectives and relaxed ones)."""

    a: BacktestReport
    b: BacktestReport
    labels: tuple[str, str] = ("a", "b")

    def to_json(self) -> dict[str, Any]:
        """Both reports under their labels, and ``summary``: per objective, pages and tickets in each."""
        rows = []
        b_by = {s.slo: s for s in self.b.summary}
        for s in self.a.summary:
            other = b_by.get(s.slo)
            rows.append({
                "slo": s.slo,
                self.labels[0]: s.to_json(),
                self.labels[1]: other.to_json() if other is not None else None,
            })
        return {self.labels[0]: self.a.to_json(), self.labels[1]: self.b.to_json(), "summary": rows}

    def to_text(self) -> str:
        """Pages and tickets per objective in each, then both episode tables."""
        la, lb = self.labels
        head = f"{'SLO':<32} {la + ' pages':>12} {la + ' tickets':>14} {lb + ' pages':>12} {lb + ' tickets':>14}"
        lines = [head]
        b_by = {s.slo: s for s in self.b.summary}
        for s in self.a.summary:
            o = b_by.get(s.slo)
            bp, bt = (str(o.pages), str(o.tickets)) if o is not None else ("-", "-")
            lines.append(f"{s.slo:<32} {s.pages:>12} {s.tickets:>14} {bp:>12} {bt:>14}")
        return "\n".join([*lines, "", f"== {la} ==", self.a.to_text(), "", f"== {lb} ==", self.b.to_text()])


def _utc(ms: int) -> str:
    return str(np.datetime64(ms, "ms").astype("datetime64[m]")).replace("T", " ")


# -- burn rates at every step -------------------------------------------------------------------


def _window_key(window: str) -> str:
    """The ``BURN_WINDOWS`` key of the same duration (``60m`` → ``1h``); ValueError naming it if none."""
    if window in BURN_WINDOWS:
        return window
    seconds = parse_duration(window)
    for key in BURN_WINDOWS:
        if parse_duration(key) == seconds:
            return key
    raise ValueError(f"policy window {window!r} is not one of the burn-rate windows ({', '.join(BURN_WINDOWS)})")


@dataclass
class _Burns:
    """One objective's burn rate per window at every step (NaN: unknown) and whether it had data."""

    rates: dict[str, F64]
    has_data: Bools


_SUMS_KEPT = 64
"""Side sums (one side, one window, every step) kept for objectives that share the side; a
quarter as many windows' sample indexes (two integers per step) for series scraped together."""


class _Sides:
    """Every counter series' samples (timestamps, reset-corrected cumulative count, raw values),
    built from one sorted pass over the samples, kept whole and exact: a backtest reads every
    step of the range at once, so it needs neither the live tiers' retention nor their ring."""

    def __init__(self, samples: pl.DataFrame, metrics: set[str]) -> None:
        frame = (
            samples.select(SAMPLE_SCHEMA.names())
            .filter(pl.col("metric").is_in(sorted(metrics)) & pl.col("timestamp").is_not_null()
                    & pl.col("value").is_finite())
            .sort("metric", "labels", "timestamp", maintain_order=True)
            .with_columns(pl.struct("metric", "labels").rle_id().alias("sid"))
        )
        sid = frame.get_column("sid").to_numpy().astype(np.int64)
        ts = frame.get_column("timestamp").to_numpy().astype(np.int64)
        keep = np.ones(len(sid), dtype=np.bool_)
        keep[1:] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])  # the first of duplicates wins
        val = frame.get_column("value").to_numpy().astype(np.float64)
        sid, ts, val = sid[keep], ts[keep], val[keep]
        first = np.ones(len(sid), dtype=np.bool_)
        first[1:] = sid[1:] != sid[:-1]
        self.ts = ts
        self.val = val
        # each series' cumulative count (its increments summed, 0 at its first sample), in place
        self.cumulative = series_increments(first, val, np.full(len(val), np.nan))
        starts = np.flatnonzero(first)
        ends = np.append(starts[1:], len(sid)) if len(starts) else starts  # no series: no spans
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            np.cumsum(self.cumulative[a:b], out=self.cumulative[a:b])
        keys = frame.filter(pl.Series(keep)).select("metric", "labels").gather(pl.Series(starts)).rows()
        self.spans: dict[tuple[str, str], tuple[int, int]] = {
            (m, lb): (int(a), int(b)) for (m, lb), a, b in zip(keys, starts, ends, strict=True)
        }
        self._cache: dict[tuple[str, float | None], list[tuple[I64, F64, F64]]] = {}
        # series scraped together share their timestamps, hence their windows' sample indexes
        self._ts_group: dict[tuple[int, int], int] = {}
        self._groups: list[I64] = []
        self._steps: I64 | None = None
        self._indexes: OrderedDict[tuple[int, int], tuple[I64, I64]] = OrderedDict()
        # objectives share sides (three availability objectives, one total): the latest sums
        self._sums: OrderedDict[tuple[str, float | None, int], tuple[F64, Bools]] = OrderedDict()

    def side(self, selector: Selector, le: float | None) -> list[tuple[I64, F64, F64]]:
        """The series ``selector`` (and ``le``) selects: each one's timestamps, cumulative count
        (its increments summed, 0 at its first sample) and raw values."""
        key = (str(selector), le)
        got = self._cache.get(key)
        if got is not None:
            return got
        spans = []
        for metric, labels in selector.matching_series(self.spans):
            if le is not None:
                bound = le_value(parse_labels(labels))
                if bound is None or not same_bound(bound, le):
                    continue
            spans.append(self.spans[(metric, labels)])
        out = [(self.ts[a:b], self.cumulative[a:b], self.val[a:b]) for a, b in spans]
        self._cache[key] = out
        return out

    def _group_of(self, ts: I64) -> int:
        """An id shared by series with the same timestamps."""
        key = (len(ts), int(ts[0]) if len(ts) else 0)
        group = self._ts_group.get(key)
        if group is not None and np.array_equal(self._groups[group], ts):
            return group
        self._groups.append(ts)
        group = len(self._groups) - 1
        if key not in self._ts_group:
            self._ts_group[key] = group
        return group

    def summed(self, selector: Selector, le: float | None, steps: I64, window_ms: int) -> tuple[F64, Bools]:
        """``sum(increase(x[W]))`` of a side at every step: its series' increases summed, known
        where any is. The last ``_SUMS_KEPT`` answers are kept for the next objectives."""
        if self._steps is not steps:
            self._steps = steps
            self._indexes.clear()
            self._sums.clear()
        key = (str(selector), le, window_ms)
        kept = self._sums.get(key)
        if kept is not None:
            self._sums.move_to_end(key)
            return kept
        answer = self._summed(self.side(selector, le), steps, window_ms)
        self._sums[key] = answer
        if len(self._sums) > _SUMS_KEPT:
            self._sums.popitem(last=False)
        return answer

    def _summed(self, series: list[tuple[I64, F64, F64]], steps: I64, window_ms: int) -> tuple[F64, Bools]:
        total = np.zeros(len(steps), dtype=np.float64)
        known = np.zeros(len(steps), dtype=np.bool_)
        for ts, cumulative, values in series:
            key = (self._group_of(ts), window_ms)
            indexes = self._indexes.get(key)
            if indexes is None:
                indexes = self._indexes[key] = window_indexes(ts, steps, window_ms)
                if len(self._indexes) > _SUMS_KEPT // 4:
                    self._indexes.popitem(last=False)
            else:
                self._indexes.move_to_end(key)
            increase, has = increases_at_steps(ts, cumulative, values, steps, window_ms, indexes)
            total += increase
            known |= has
        return total, known


def _counter_burns(spec: SLOSpec, sides: _Sides, steps: I64, windows: Sequence[str]) -> _Burns:
    if spec.sli.ratio is not None:
        r = spec.sli.ratio
        total: tuple[Selector, float | None] = (r.total, None)
        other_sel = r.errors if r.errors is not None else r.good
        assert other_sel is not None
        other: tuple[Selector, float | None] = (other_sel, None)
        has_errors = r.errors is not None
    else:
        lat = spec.sli.latency
        assert lat is not None
        buckets = lat.histogram.with_metric(lat.histogram.metric + "_bucket")
        total, other = (buckets, math.inf), (buckets, lat.threshold)
        has_errors = False
    budget = 1.0 - spec.target
    rates: dict[str, F64] = {}
    has_data = np.zeros(len(steps), dtype=np.bool_)
    spec_window_ms = round(spec.window * 1000)
    for w in (*windows, "slo"):
        w_ms = spec_window_ms if w == "slo" else round(parse_duration(w) * 1000)
        tot, tot_ok = sides.summed(*total, steps, w_ms)
        oth, oth_ok = sides.summed(*other, steps, w_ms)
        oth = np.where(oth_ok, oth, 0.0)
        err = oth if has_errors else np.where(tot_ok, tot - oth, 0.0)
        r_ok = tot_ok & (tot > 0)
        ratio = np.clip(np.divide(err, tot, out=np.zeros(len(steps)), where=r_ok), 0.0, 1.0)
        if w == "slo":
            has_data = r_ok
        else:
            rates[w] = np.where(r_ok, ratio / budget, np.nan)
    return _Burns(rates, has_data)


def _engine_burns(specs: Sequence[SLOSpec], samples: pl.DataFrame, steps: I64, windows: Sequence[str]) -> list[_Burns]:
    """Live replay: ingest in time order up to each step, evaluate there."""
    out = [_Burns({w: np.full(len(steps), np.nan) for w in windows}, np.zeros(len(steps), dtype=np.bool_))
           for _ in specs]
    index = {s.name: i for i, s in enumerate(specs)}
    evaluator = SLOEvaluator(specs)
    frame = samples.select(SAMPLE_SCHEMA.names()).filter(pl.col("timestamp").is_not_null()).sort(
        "timestamp", maintain_order=True
    )
    ts = frame.get_column("timestamp").to_numpy()
    cut = int(np.searchsorted(ts, steps[0], side="right"))
    evaluator.ingest(frame.slice(0, cut).sort("metric", "labels", "timestamp", maintain_order=True))
    for j, at in enumerate(steps.tolist()):
        upto = int(np.searchsorted(ts, at, side="right"))
        if upto > cut:
            evaluator.ingest(frame.slice(cut, upto - cut))
            cut = upto
        for o in evaluator.evaluate(at).objectives:
            burns = out[index[o.name]]
            if o.status in ("no_data", "low_traffic"):  # as live alerts: a handful of events never pages
                continue
            burns.has_data[j] = True
            for w in windows:
                value = o.burn_rates.get(w)
                if value is not None:
                    burns.rates[w][j] = value
    return out


# -- episodes -----------------------------------------------------------------------------------


def _tier_firing(
    spec: SLOSpec, steps: I64, burns: _Burns, c: Condition, with_hysteresis: bool, reference: bool = False
) -> Bools:
    """Where one tier fires: where its condition holds, through ``slo.hysteresis`` (``for:`` and the
    resolve delay) as the live policy steps it, on whole arrays (``slo.hysteresis_replay``; the
    ``reference`` steps it one step at a time). A step without data says nothing (the state stays),
    as live; a known rate at or below the factor does not hold."""
    f = alert_factor(c.budget_share, parse_duration(c.long_window), spec.window)
    long_b, short_b = burns.rates[_window_key(c.long_window)], burns.rates[_window_key(c.short_window)]
    with np.errstate(invalid="ignore"):
        holds = burns.has_data & (long_b > f) & (short_b > f)
        if not with_hysteresis or (c.for_seconds <= 0 and c.keep_firing_for_seconds <= 0):
            return holds
        below = (long_b <= f) | (short_b <= f)
    known = burns.has_data & (holds | below)
    if reference:
        return hysteresis.replay(steps / 1000.0, holds, c.for_seconds, c.keep_firing_for_seconds, known=known)
    return hysteresis_replay.replay(steps / 1000.0, holds, known, c.for_seconds, c.keep_firing_for_seconds)


def _episodes(
    spec: SLOSpec, steps: I64, burns: _Burns, policy: Sequence[Condition], with_hysteresis: bool = True,
    reference: bool = False,
) -> list[Episode]:
    found: list[Episode] = []
    above = np.nan_to_num(burns.rates[_DELAY_WINDOW], nan=0.0) > 1.0
    rise = above & ~np.concatenate([[False], above[:-1]])
    last_rise = np.maximum.accumulate(np.where(rise, np.arange(len(steps)), -1)) if len(steps) else rise
    severities = sorted(dict.fromkeys(c.severity for c in policy), key=_severity_rank)
    firing: list[Bools] = []
    peaks: list[F64] = []
    for severity in severities:
        holds = np.zeros(len(steps), dtype=np.bool_)
        peak = np.full(len(steps), -np.inf)
        for c in (c for c in policy if c.severity == severity):
            holds |= _tier_firing(spec, steps, burns, c, with_hysteresis, reference)
            peak = np.fmax(peak, burns.rates[_window_key(c.long_window)])
        firing.append(holds)
        peaks.append(peak)
    # a page inhibits a ticket, as live
    inhibit = hysteresis.open_mask if reference else hysteresis_replay.open_mask
    opened = inhibit(firing) if with_hysteresis else firing
    for severity, holds, peak in zip(severities, opened, peaks, strict=True):
        edges = np.diff(np.concatenate([[0], holds.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True):
            rose = int(last_rise[a])
            delay = (int(steps[a]) - int(steps[rose])) / 1000.0 if rose >= 0 else None
            found.append(Episode(
                slo=spec.name,
                severity=severity,
                start_ms=int(steps[a]),
                end_ms=int(steps[b]) if b < len(steps) else None,
                detection_delay_s=delay,
                peak_burn=float(np.nanmax(peak[a:b])),
            ))
    return found


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _replayed_as_arrays(spec: SLOSpec) -> bool:
    """Rolling ratio and latency objectives replay as arrays; everything else (time slices,
    calendar windows, maintenance, low-traffic floors) through the evaluator itself."""
    return (
        (spec.sli.ratio is not None or spec.sli.latency is not None)
        and spec.calendar is None
        and not spec.maintenance
        and not spec.min_events
    )


class Shared:
    """What one backtest computes that another over the same samples and steps reuses (``compare``):
    the counters read from the samples by metric set, and the time-slice objectives' error ratios
    by the objective less its target (its burn rates are those ratios over its budget)."""

    def __init__(self) -> None:
        self.sides: dict[frozenset[str], _Sides] = {}
        self.slices: dict[tuple[str, tuple[str, ...], int, int, int], SliceRatios] = {}


def backtest(
    specs: Sequence[SLOSpec],
    samples: pl.DataFrame,
    *,
    start_ms: int,
    end_ms: int,
    step_ms: int = 60_000,
    policy: Sequence[Condition] | None = None,
    shared: Shared | None = None,
    hysteresis: bool = True,
) -> BacktestReport:
    """Replay ``policy`` over ``samples`` at every step of ``[start_ms, end_ms]`` (see the module doc).

    ``policy`` ``None`` replays each objective's own tiers (``slo.alert_tiers.objective_tiers``:
    its ``alerting`` or its period's defaults, with their ``for:`` and resolve delay), as the agent
    alerts. ``hysteresis`` ``False`` replays the bare conditions: no ``for:``, no resolve delay and
    no inhibition of tickets by pages (the policy as it was before them).

    ``shared`` keeps what was read from ``samples`` for a caller that replays the same samples
    again (``compare``).

    ``samples`` must hold the history the windows look back on (the objective window and the
    longest policy window before ``start_ms``). Episodes are ordered by start, then objective,
    then severity. An objective whose series are absent yields no episode and ``no_data`` in
    the summary. Raises ``ValueError`` when ``step_ms`` <= 0, ``end_ms`` < ``start_ms``, or a
    policy window is not one of ``BURN_WINDOWS`` (by duration).
    """
    return run_backtest(specs, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms, policy=policy,
                        shared=shared, hysteresis=hysteresis)


def run_backtest(
    specs: Sequence[SLOSpec],
    samples: pl.DataFrame,
    *,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    policy: Sequence[Condition] | None,
    shared: Shared | None,
    hysteresis: bool,
    reference: bool = False,
) -> BacktestReport:
    """``backtest``; ``reference`` replays it the slow way it is measured against
    (``slo.backtest_reference``): every time-slice objective through the live evaluator step by
    step, and the hysteresis one step at a time."""
    if step_ms <= 0:
        raise ValueError(f"step must be positive, got {step_ms} ms")
    if end_ms < start_ms:
        raise ValueError(f"empty range: end ({end_ms} ms) is before start ({start_ms} ms)")
    policies: dict[str, Sequence[Condition]] = {
        s.name: policy if policy is not None else objective_tiers(s) for s in specs
    }
    windows = list(dict.fromkeys([_DELAY_WINDOW, *(
        _window_key(w) for p in policies.values() for c in p for w in (c.long_window, c.short_window)
    )]))
    windows_ms = [round(parse_duration(w) * 1000) for w in windows]
    steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
    cache = Shared() if shared is None else shared
    counter_specs = [s for s in specs if _replayed_as_arrays(s)]
    sliced = set() if reference else {s.name for s in specs if not _replayed_as_arrays(s) and fits(s, windows_ms)}
    slice_specs = [s for s in specs if s.name in sliced]
    other_specs = [s for s in specs if not _replayed_as_arrays(s) and s.name not in sliced]
    burns: dict[str, _Burns] = {}
    if counter_specs:
        metrics = set()
        for s in counter_specs:
            if s.sli.ratio is not None:
                metrics |= {sel.metric for sel in (s.sli.ratio.total, s.sli.ratio.errors, s.sli.ratio.good) if sel}
            elif s.sli.latency is not None:
                metrics.add(s.sli.latency.histogram.metric + "_bucket")
        key = frozenset(metrics)
        if key not in cache.sides:
            cache.sides[key] = _Sides(samples, metrics)
        for s in counter_specs:
            burns[s.name] = _counter_burns(s, cache.sides[key], steps, windows)
    if slice_specs:
        burns.update(_slice_burns(slice_specs, samples, steps, windows, cache))
    if other_specs:
        for s, b in zip(other_specs, _engine_burns(other_specs, samples, steps, windows), strict=True):
            burns[s.name] = b
    return _report(specs, burns, steps, start_ms, end_ms, step_ms, policies, hysteresis, reference)


def _slice_burns(
    specs: Sequence[SLOSpec], samples: pl.DataFrame, steps: I64, windows: Sequence[str], cache: Shared
) -> dict[str, _Burns]:
    """Time-slice objectives' burn rates from their error ratios (``slo.backtest_slices``), as the
    live replay records them: ratio / budget where the ratio is known and the objective has data."""
    windows_ms = [round(parse_duration(w) * 1000) for w in windows]
    span = (tuple(windows), int(steps[0]) if len(steps) else 0, int(steps[-1]) if len(steps) else 0, len(steps))
    keys = [(target_free_key(s), *span) for s in specs]
    missing = [s for s, k in zip(specs, keys, strict=True) if k not in cache.slices]
    if missing:
        for k, answer in zip(
            [k for k in keys if k not in cache.slices], slice_ratios(missing, samples, steps, windows_ms), strict=True
        ):
            cache.slices[k] = answer
    out: dict[str, _Burns] = {}
    for spec, k in zip(specs, keys, strict=True):
        answer = cache.slices[k]
        has_data = answer.known[:, -1].copy()
        budget = 1.0 - spec.target
        rates = {
            w: np.where(has_data & answer.known[:, i], answer.ratios[:, i] / budget, np.nan)
            for i, w in enumerate(windows)
        }
        out[spec.name] = _Burns(rates, has_data)
    return out


def _report(
    specs: Sequence[SLOSpec], burns: Mapping[str, _Burns], steps: I64, start_ms: int, end_ms: int, step_ms: int,
    policies: Mapping[str, Sequence[Condition]], with_hysteresis: bool, reference: bool,
) -> BacktestReport:
    episodes: list[Episode] = []
    summary: list[ObjectiveSummary] = []
    for spec in specs:
        b = burns[spec.name]
        mine = _episodes(spec, steps, b, policies[spec.name], with_hysteresis, reference)
        episodes += mine
        pages = sum(e.severity == "page" for e in mine)
        tickets = sum(e.severity == "ticket" for e in mine)
        status: Literal["paged", "ticketed", "quiet", "no_data"]
        status = "no_data" if not b.has_data.any() else "paged" if pages else "ticketed" if tickets else "quiet"
        summary.append(ObjectiveSummary(spec.name, pages, tickets, status))
    episodes.sort(key=lambda e: (e.start_ms, e.slo, e.severity))
    return BacktestReport(
        start_ms=start_ms,
        end_ms=end_ms,
        step_ms=step_ms,
        episodes=tuple(episodes),
        summary=tuple(summary),
        policy=tuple(dict.fromkeys(
            (c.severity, c.long_window, c.short_window, c.budget_share) for p in policies.values() for c in p
        )),
    )


def compare(
    specs_a: Sequence[SLOSpec],
    specs_b: Sequence[SLOSpec],
    samples: pl.DataFrame,
    *,
    start_ms: int,
    end_ms: int,
    step_ms: int = 60_000,
    policy: Sequence[Condition] | None = None,
    policy_b: Sequence[Condition] | None = None,
    labels: tuple[str, str] = ("current", "alternative"),
    hysteresis: bool = True,
) -> BacktestComparison:
    """Backtest two sets of objectives (and optionally two policies) over the same history, side by
    side: the counters are read from the samples once, and a time-slice objective's ratios are
    computed once when only its target differs."""
    return run_compare(specs_a, specs_b, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms,
                       policy=policy, policy_b=policy_b, labels=labels, hysteresis=hysteresis)


def run_compare(
    specs_a: Sequence[SLOSpec],
    specs_b: Sequence[SLOSpec],
    samples: pl.DataFrame,
    *,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    policy: Sequence[Condition] | None,
    policy_b: Sequence[Condition] | None,
    labels: tuple[str, str],
    hysteresis: bool,
    reference: bool = False,
) -> BacktestComparison:
    """``compare``; ``reference`` as in ``run_backtest``."""
    shared = Shared()
    a = run_backtest(specs_a, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms, policy=policy,
                     shared=shared, hysteresis=hysteresis, reference=reference)
    b = run_backtest(
        specs_b, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms,
        policy=policy if policy_b is None else policy_b, shared=shared, hysteresis=hysteresis, reference=reference,
    )
    return BacktestComparison(a, b, labels)
