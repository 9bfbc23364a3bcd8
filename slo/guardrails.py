"""Cost guardrails: a spend budget per calendar period and a maximum cost per 1,000 inferences.

``GuardrailEvaluator`` has the shape of ``slo.engine.SLOEvaluator`` (``selectors``, ``ingest``,
``evaluate``) and returns ``ObjectiveResult``s with every field set, so the agent ranks them
with the objectives (``slo.ranking``). Pure: samples in, frozen results out, times are parameters.

What the result fields mean for a guardrail (``details`` holds the figures in currency):

**budget** (the calendar period containing ``at``, in the spec's time zone):

- ``objective`` is the *limit in currency* (not a ratio); ``window`` the period name
  (``month``), ``window_seconds`` the period's length (DST days included);
- spent = the summed spend series' increase since the period start (value at or before ``at``
  minus value at or before the start; a series that starts inside the period counts from its
  first sample; a drop is a credit or a counter reset per ``decreases``);
- ``sli`` = spent / limit (fraction used), ``budget_remaining`` = 1 − spent / limit;
- ``burn_rates[w]`` = (spend over w / w) / (limit / period length): 1.0 spends exactly the limit
  by the period end; ``None`` when w holds no spend sample;
- run rate = spend over the last 24 h per day (the period-to-date average when the series are
  younger than a day); forecast = spent + run rate × time left; ``crosses_at`` = when the
  forecast crosses the limit, if before the period end;
- ``time_to_breach_seconds`` = 0 once spent ≥ limit, else seconds until ``crosses_at``, else
  ``None``; status ``breached`` (spent ≥ limit), ``warning`` (forecast > limit), ``no_data``
  (no spend sample in the period: never a $0 "ok"), else ``ok``; ``events`` = spent.

**cost_per_1k** (the rolling ``window``):

- ``objective`` is the *maximum cost per 1,000 inferences in currency*; ``sli`` = spend increase
  over the window / (inference increase / 1000); ``budget_remaining`` = 1 − cost / max;
- ``burn_rates[w]`` = cost per 1k over w / max (``None`` when w holds no inference or no spend
  sample); status ``breached`` when the window's cost > max, ``warning`` when the last day's (or,
  without a day of data, the last 6 hours') cost > max, ``no_data`` when the window holds no
  inferences or no spend sample; ``time_to_breach_seconds`` is 0 when breached, else ``None``
  (a ratio has no run-rate crossing); ``events`` = inferences in the window.
- Inference counters always have counter-reset semantics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.labels import Selector
from redline.kernel.money import format_money
from redline.kernel.units import format_duration, parse_duration
from redline.slo.calendar import Period, period_bounds
from redline.slo.guardrail_store import SpendTracks, Template
from redline.slo.results import ObjectiveResult, Status
from redline.slo.series.cumulative import NO_TS
from redline.slo.spec import BURN_WINDOWS, PERIOD_MAX_SECONDS, GuardrailSpec

__all__ = ["GuardrailEvaluator", "currency_of"]

_BURN_MS: tuple[int, ...] = tuple(round(parse_duration(w) * 1000) for w in BURN_WINDOWS)
_DAY_MS = 86_400_000
_CURRENCIES = ("usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "inr", "cny", "sek", "nok", "dkk")
_WARN_WINDOWS: tuple[tuple[str, int], ...] = (("1d", BURN_WINDOWS.index("1d")), ("6h", BURN_WINDOWS.index("6h")))
_DAY_COL = _BURN_MS.index(_DAY_MS)
_BURN_MS_ARR = np.asarray(_BURN_MS, dtype=np.int64)
_BURN_S = _BURN_MS_ARR / 1000.0

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def currency_of(metric: str) -> str | None:
    """The ISO currency code a spend metric's name carries (``redline_spend_usd_total`` → ``USD``)."""
    for part in metric.lower().split("_"):
        if part in _CURRENCIES:
            return part.upper()
    return None


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_MARGIN_MINUTES = 1440 + 120
"""Each ring keeps its guardrails' longest window plus this: ``evaluate``'s ``at`` may lie a day
(and an hour) before the newest sample, and a window's start then never falls in the oldest hour
kept, where samples arriving late from before the ring are folded in (older ``at``s read the
oldest minute kept)."""


@dataclass
class _Guard:
    spec: GuardrailSpec
    spend: int  # template index
    inferences: int = -1
    window_ms: int = 0
    currency: str | None = None


@dataclass
class _Budgets:
    """The budget guardrails' constant figures, as arrays (one row per budget)."""

    at: list[int]  # positions in the configuration
    static: list[tuple[int, str, str, str | None, str, str, int]]
    """Per budget: position, name, dimension, currency, period, time zone, spend template."""
    template: I64
    period_key: I64  # index into ``GuardrailEvaluator._periods``
    limit: F64
    limit_text: list[str]


@dataclass
class _Costs:
    """The cost-per-1k guardrails' constant figures, as arrays."""

    at: list[int]
    static: list[tuple[str, str, str | None, float, int, int]]
    """Per cost guardrail: name, dimension, currency, window seconds, spend and inference template."""
    spend: I64
    inferences: I64
    window_ms: I64
    max: F64
    max_text: list[str]
    window: list[str]


class GuardrailEvaluator:
    """Evaluates budget and cost-per-1k guardrails over ingested spend and inference samples.

    Not thread-safe: one writer at a time. Ingesting in one frame (cold start) or scrape by
    scrape gives the same results. ``evaluate``'s ``at`` may lie up to a day before the newest
    sample (each ring keeps its guardrails' longest window plus a day and an hour).
    """

    def __init__(self, specs: Sequence[GuardrailSpec]) -> None:
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"guardrail names must be unique; repeated: {', '.join(dupes)}")
        templates: list[Template] = []
        keep_days: list[float] = []
        index: dict[tuple[str, str, tuple[str, ...], bool], int] = {}

        def template(t: Template, days: float) -> int:
            if t.key not in index:
                index[t.key] = len(templates)
                templates.append(t)
                keep_days.append(3.0)  # the longest burn window
            i = index[t.key]
            keep_days[i] = max(keep_days[i], days)
            return i

        self._guards: list[_Guard] = []
        periods: dict[tuple[Period, str, str], int] = {}
        budgets: list[tuple[int, int, int, float]] = []
        costs: list[tuple[int, int, int, int, float]] = []
        for pos, spec in enumerate(specs):
            if spec.budget is not None:
                b = spec.budget
                days = PERIOD_MAX_SECONDS[b.period] / 86400
                g = _Guard(spec, template(Template(b.spend, b.decreases, b.showback_by, timed=True), days))
                key = periods.setdefault((b.period, b.timezone, b.week_start), len(periods))
                budgets.append((pos, g.spend, key, b.limit))
            else:
                c = spec.cost_per_1k
                assert c is not None
                days = spec.window / 86400
                g = _Guard(
                    spec,
                    template(Template(c.spend, c.decreases, c.showback_by, timed=True), days),
                    template(Template(c.inferences, "reset", c.showback_by), days),
                    round(spec.window * 1000),
                )
                costs.append((pos, g.spend, g.inferences, g.window_ms, c.max))
            g.currency = currency_of(templates[g.spend].selector.metric)
            self._guards.append(g)
        self._templates = templates
        self._joins: dict[tuple[int, int], _Join] = {}
        self._periods = list(periods)
        self._store = SpendTracks(
            templates, [math.ceil(d * 1440) + _MARGIN_MINUTES for d in keep_days], _MARGIN_MINUTES + 60
        )
        cur = [g.currency for g in self._guards]
        self._budgets = _Budgets(
            [p for p, *_ in budgets],
            [
                (p, specs[p].name, specs[p].dimension, cur[p], *self._periods[k][:2], t)
                for p, t, k, _ in budgets
            ],
            np.asarray([t for _, t, _, _ in budgets], dtype=np.int64),
            np.asarray([k for _, _, k, _ in budgets], dtype=np.int64),
            np.asarray([lim for *_, lim in budgets], dtype=np.float64),
            [format_money(lim, cur[p]) for p, _, _, lim in budgets],
        )
        self._costs = _Costs(
            [p for p, *_ in costs],
            [(specs[p].name, specs[p].dimension, cur[p], specs[p].window, st, it) for p, st, it, _, _ in costs],
            np.asarray([s for _, s, _, _, _ in costs], dtype=np.int64),
            np.asarray([i for _, _, i, _, _ in costs], dtype=np.int64),
            np.asarray([w for _, _, _, w, _ in costs], dtype=np.int64),
            np.asarray([m for *_, m in costs], dtype=np.float64),
            [format_money(m, cur[p]) for p, *_, m in costs],
            [format_duration(specs[p].window) for p, *_ in costs],
        )

    def selectors(self) -> list[Selector]:
        """Distinct selectors the agent must read from the store (spend and inference series)."""
        seen: dict[str, Selector] = {}
        for t in self._templates:
            seen.setdefault(str(t.selector), t.selector)
        return list(seen.values())

    def ingest(self, samples: pl.DataFrame) -> None:
        """Add samples (``SAMPLE_SCHEMA``, any series, any order); unselected series are ignored,
        as are NaN values and samples not newer than their series' newest. Raises ``ValueError``
        naming a missing or mistyped column."""
        self._store.ingest(samples)

    def memory_bytes(self) -> int:
        """Bytes held by the cumulative arrays (rings are allocated as zero pages, see
        ``slo.series.cumulative``)."""
        return self._store.nbytes()

    # -- evaluate --------------------------------------------------------------------------

    def evaluate(self, at_ms: int) -> list[ObjectiveResult]:
        """Every guardrail at ``at_ms`` (data after it is ignored), in configuration order.

        The figures are computed as arrays for all guardrails of a kind at once (one lookup of
        every track and window); Python only formats the reasons and builds the results."""
        store = self._store
        bounds = [period_bounds(at_ms, *key) for key in self._periods]
        windows: dict[int, int] = {w: i for i, w in enumerate(_BURN_MS)}

        def column(w: int) -> int:
            return windows.setdefault(w, len(windows))

        period_col = np.asarray([column(at_ms - ps) for ps, _ in bounds], dtype=np.int64)
        cost_col = np.asarray([column(w) for w in self._costs.window_ms.tolist()], dtype=np.int64)
        need = np.zeros((len(self._templates), len(windows)), dtype=np.bool_)
        need[:, : len(_BURN_MS)] = True
        need[self._budgets.template, period_col[self._budgets.period_key]] = True
        need[self._costs.spend, cost_col] = True
        need[self._costs.inferences, cost_col] = True
        track_inc = store.track_increases(at_ms, np.asarray(list(windows), dtype=np.int64), need)
        _, value_side, time_side = store.track_arrays()
        sums, newest_t, first_t = _per_template(
            store.template_tracks, track_inc, store.newest_at(at_ms, time_side), store.first_ts(value_side), at_ms
        )
        out: list[ObjectiveResult | None] = [None] * len(self._guards)
        view = _TrackView(self._templates, store, track_inc, self._joins)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            self._budgets_at(at_ms, bounds, period_col, sums, newest_t, first_t, view, out)
            self._costs_at(at_ms, cost_col, sums, newest_t, view, out)
        return [r for r in out if r is not None]

    def _budgets_at(
        self, at_ms: int, bounds: list[tuple[int, int]], period_col: I64, sums: F64, newest_t: F64,
        first_t: F64, view: _TrackView, out: list[ObjectiveResult | None],
    ) -> None:
        b = self._budgets
        n = len(b.at)
        if n == 0:
            return
        rows = np.arange(n)
        ps = np.asarray([p for p, _ in bounds], dtype=np.int64)[b.period_key]
        pe = np.asarray([e for _, e in bounds], dtype=np.int64)[b.period_key]
        period_s = (pe - ps) / 1000.0
        col = period_col[b.period_key]
        s = sums[b.template]
        spent = s[rows, col]
        last, first = newest_t[b.template], first_t[b.template]
        no_data = last < ps
        pace = b.limit / period_s
        burn = (s[:, : len(_BURN_MS)] / _BURN_S) / pace[:, None]
        burn_ok = last[:, None] > at_ms - _BURN_MS_ARR
        long = first <= at_ms - _DAY_MS
        elapsed = (at_ms - np.maximum(ps, first)) / 1000.0
        has_rate = long | (elapsed > 0)
        rate_s = np.where(long, s[:, _DAY_COL] / 86400.0, spent / elapsed)
        left_s = (pe - at_ms) / 1000.0
        forecast = spent + np.where(has_rate, rate_s, 0.0) * left_s
        overrun = np.maximum(0.0, forecast - b.limit)
        breached = spent >= b.limit
        to_limit = (b.limit - spent) / rate_s
        crosses = ~breached & has_rate & (rate_s > 0) & (to_limit < left_s)
        crosses_at = at_ms / 1000.0 + to_limit
        used = spent / b.limit
        per_day = rate_s * 86400

        burn_obj = burn.astype(object)
        burn_obj[~burn_ok] = None
        since: dict[tuple[int, str], str] = {}
        cols = zip(
            b.static, b.limit.tolist(), b.limit_text, ps.tolist(), pe.tolist(), period_s.tolist(), col.tolist(),
            spent.tolist(), no_data.tolist(), burn_obj.tolist(), has_rate.tolist(), per_day.tolist(),
            forecast.tolist(), overrun.tolist(), breached.tolist(), crosses.tolist(), to_limit.tolist(),
            crosses_at.tolist(), used.tolist(), strict=True,
        )
        money = format_money
        for (
            (pos, name, dimension, cur, period, tz, template), limit, limit_text, p_s, p_e, period_sec, c, spent_i,
            empty, burn_row, rated, day_rate, fc, over, is_breached, is_crossing, ttb_i, cross_at, used_i,
        ) in cols:
            if empty:
                if (p_s, tz) not in since:
                    since[(p_s, tz)] = datetime.fromtimestamp(p_s / 1000, _zone(tz)).strftime("%Y-%m-%d %H:%M")
                out[pos] = ObjectiveResult(
                    name, "budget", dimension, limit, period, period_sec, None, None, dict.fromkeys(BURN_WINDOWS),
                    None, "no_data", f"no spend samples this {period} (since {since[(p_s, tz)]} {tz})",
                    details={
                        "currency": cur, "limit": limit, "period_start": p_s / 1000.0, "period_end": p_e / 1000.0,
                        "spent": None, "forecast": None, "overrun": None, "crosses_at": None,
                        "run_rate_per_day": None, "showback": [],
                    },
                )
                continue
            head = f"spent {money(spent_i, cur)} of {limit_text} ({used_i * 100:.0f}%)"
            tail = f"at {money(day_rate, cur)}/day the {period} ends at {money(fc, cur)}" if rated else (
                "no run rate yet"
            )
            status: Status
            ttb: float | None = None
            crossing: float | None = None
            if is_breached:
                status, ttb = "breached", 0.0
                reason = f"{head}: over by {money(spent_i - limit, cur)}; {tail}"
            elif is_crossing:
                status, ttb, crossing = "warning", ttb_i, cross_at
                day = datetime.fromtimestamp(cross_at, _zone(tz)).strftime("%Y-%m-%d")
                reason = f"{head}; {tail} — over by {money(over, cur)} on {day}"
            elif rated:
                status = "ok"
                reason = f"{head}; {tail}, {money(limit - fc, cur)} under"
            else:
                status = "ok"
                reason = f"{head}; {tail}"
            out[pos] = ObjectiveResult(
                name, "budget", dimension, limit, period, period_sec, used_i, 1.0 - used_i,
                dict(zip(BURN_WINDOWS, burn_row, strict=True)), ttb, status, reason, events=spent_i,
                details={
                    "currency": cur, "limit": limit, "period_start": p_s / 1000.0, "period_end": p_e / 1000.0,
                    "spent": spent_i, "forecast": fc, "overrun": over, "crosses_at": crossing,
                    "run_rate_per_day": _finite(day_rate) if rated else None,
                    "showback": view.showback(template, c, "spent"),
                },
            )

    def _costs_at(
        self, at_ms: int, cost_col: I64, sums: F64, newest_t: F64, view: _TrackView,
        out: list[ObjectiveResult | None],
    ) -> None:
        c = self._costs
        n = len(c.at)
        if n == 0:
            return
        rows = np.arange(n)
        s, i = sums[c.spend], sums[c.inferences]
        spend, infs = s[rows, cost_col], i[rows, cost_col]
        last = newest_t[c.spend]
        start = at_ms - c.window_ms
        in_window = last > start
        cost = spend / (infs / 1000.0)
        nb = len(_BURN_MS)
        burn = (s[:, :nb] / (i[:, :nb] / 1000.0)) / c.max[:, None]
        burn_obj = burn.astype(object)
        burn_obj[~((i[:, :nb] > 0) & (last[:, None] > at_ms - _BURN_MS_ARR))] = None
        cols = zip(
            range(n), c.max.tolist(), c.max_text, c.window, (start / 1000.0).tolist(), cost_col.tolist(),
            spend.tolist(), infs.tolist(), in_window.tolist(), cost.tolist(), burn_obj.tolist(), strict=True,
        )
        money = format_money
        for pos, mx, max_text, window, start_s, col, spend_i, infs_i, fresh, cost_i, burn_row in cols:
            name, dimension, cur, window_s, spend_t, inf_t = c.static[pos]
            if infs_i <= 0 or not fresh:
                missing = "inferences" if infs_i <= 0 else "spend samples"
                out[c.at[pos]] = ObjectiveResult(
                    name, "cost_per_1k", dimension, mx, window, window_s, None, None, dict.fromkeys(BURN_WINDOWS),
                    None, "no_data", f"no {missing} in the last {window}",
                    details={
                        "currency": cur, "max": mx, "window_start": start_s, "spend": spend_i if fresh else None,
                        "inferences": infs_i, "cost_per_1k": None, "showback": [],
                    },
                )
                continue
            head = f"{money(cost_i, cur)} per 1k inferences over {window} (max {max_text})"
            recent = next(((w, burn_row[k]) for w, k in _WARN_WINDOWS if burn_row[k] is not None), None)
            status: Status
            if cost_i > mx:
                status = "breached"
                reason = f"{head}: {(cost_i / mx - 1) * 100:.0f}% over"
            elif recent is not None and recent[1] > 1.0:
                status = "warning"
                reason = f"{head}, but the last {recent[0]} ran at {money(recent[1] * mx, cur)} per 1k"
            else:
                status = "ok"
                reason = head if recent is None else f"{head}; last {recent[0]} {money(recent[1] * mx, cur)}"
            out[c.at[pos]] = ObjectiveResult(
                name, "cost_per_1k", dimension, mx, window, window_s, cost_i, 1.0 - cost_i / mx,
                dict(zip(BURN_WINDOWS, burn_row, strict=True)), 0.0 if status == "breached" else None, status, reason,
                events=infs_i,
                details={
                    "currency": cur, "max": mx, "window_start": start_s, "spend": spend_i, "inferences": infs_i,
                    "cost_per_1k": cost_i, "showback": view.cost_showback(spend_t, inf_t, col),
                },
            )


class _TrackView:
    """One evaluation's per-track increases for showback: a window's column is turned into a
    Python list once, each template's groups are sorted once per column."""

    def __init__(
        self, templates: list[Template], store: SpendTracks, track_inc: F64, joins: dict[tuple[int, int], _Join]
    ) -> None:
        self._templates = templates
        self._joins = joins
        self._store = store
        self._inc = track_inc
        self._columns: dict[int, list[float]] = {}
        self._sorted: dict[tuple[int, int], list[tuple[dict[str, Any], float]]] = {}

    def _column(self, col: int) -> list[float]:
        values = self._columns.get(col)
        if values is None:
            values = self._columns[col] = self._inc[:, col].tolist()
        return values

    def showback(self, template: int, col: int, key: str) -> list[dict[str, Any]]:
        """Spend per group of the template's showback labels, largest first (ties: first seen first)."""
        by = self._templates[template].by
        if not by:
            return []
        ranked = self._sorted.get((template, col))
        if ranked is None:
            values = self._column(col)
            tracks = self._store.tracks
            spent = sorted(
                ((values[t], tracks[t].group) for t in self._store.template_tracks[template]), key=lambda r: -r[0]
            )
            ranked = self._sorted[(template, col)] = [(dict(zip(by, g, strict=True)), v) for v, g in spent]
        return [{**labels, key: value} for labels, value in ranked]

    def cost_showback(self, spend_t: int, inf_t: int, col: int) -> list[dict[str, Any]]:
        """Spend, inferences and cost per 1k per group present on both sides; a group found on one
        side only says which side it is ``missing`` from (an absent label is ``None``). Sorted by
        spend, largest first (groups without spend last), ties in label order."""
        if not self._templates[spend_t].by:
            return []
        values = self._column(col)
        rows: list[dict[str, Any]] = []
        for sid, nid, labels, missing in self._join(spend_t, inf_t).groups:
            s = values[sid] if sid >= 0 else None
            n = values[nid] if nid >= 0 else None
            cost = s / (n / 1000.0) if s is not None and n is not None and n > 0 else None
            rows.append({**labels, "spend": s, "inferences": n, "cost_per_1k": cost, "missing": missing})
        rows.sort(key=lambda r: -(r["spend"] if r["spend"] is not None else -math.inf))
        return rows

    def _join(self, spend_t: int, inf_t: int) -> _Join:
        """The groups of both templates in label order (cached until either gains a track)."""
        tracks = self._store.template_tracks
        sizes = (len(tracks[spend_t]), len(tracks[inf_t]))
        join = self._joins.get((spend_t, inf_t))
        if join is not None and join.sizes == sizes:
            return join
        by = self._templates[spend_t].by
        group_of = self._store.tracks
        spend = {group_of[t].group: t for t in tracks[spend_t]}
        infs = {group_of[t].group: t for t in tracks[inf_t]}
        keys = sorted(spend.keys() | infs.keys(), key=lambda k: tuple("" if v is None else v for v in k))
        groups = [
            (
                spend.get(k, -1), infs.get(k, -1), dict(zip(by, k, strict=True)),
                "inferences" if k not in infs else "spend" if k not in spend else None,
            )
            for k in keys
        ]
        join = self._joins[(spend_t, inf_t)] = _Join(sizes, groups)
        return join


@dataclass
class _Join:
    """A cost guardrail's showback groups in label order: spend track, inference track (-1:
    none), the labels and the side a group is missing from."""

    sizes: tuple[int, int]
    groups: list[tuple[int, int, dict[str, Any], str | None]]


def _per_template(
    template_tracks: list[list[int]], track_inc: F64, newest: F64, first: I64, at_ms: int
) -> tuple[F64, F64, F64]:
    """Per template: the summed increases (templates × windows), the newest sample at or before
    ``at`` (``-inf`` when none) and the first sample (``inf`` when none)."""
    n_t = len(template_tracks)
    nw = track_inc.shape[1]
    sums = np.zeros((n_t, nw), dtype=np.float64)
    newest_t = np.full(n_t, -np.inf)
    first_t = np.full(n_t, np.inf)
    counts = np.asarray([len(x) for x in template_tracks], dtype=np.int64)
    has = np.flatnonzero(counts > 0)
    if len(has):
        order = np.asarray([t for x in template_tracks for t in x], dtype=np.int64)
        starts = (np.cumsum(counts) - counts)[has]
        sums[has] = np.add.reduceat(track_inc[order], starts, axis=0)
        newest_t[has] = np.maximum.reduceat(newest[order], starts)
        f = np.where((first != NO_TS) & (first <= at_ms), first, np.inf)[order].astype(np.float64)
        first_t[has] = np.minimum.reduceat(f, starts)
    return sums, newest_t, first_t
