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

from slo.calendar import period_bounds
from slo.cumulative import NO_TS
from slo.guardrail_store import SpendTracks, Template
from slo.results import ObjectiveResult, Status
from slo.spec import BURN_WINDOWS, BudgetGuardrail, CostPer1kGuardrail, GuardrailSpec
from store.types import Selector, format_duration, parse_duration

__all__ = ["GuardrailEvaluator", "currency_of"]

_BURN_MS: tuple[int, ...] = tuple(round(parse_duration(w) * 1000) for w in BURN_WINDOWS)
_DAY_MS = 86_400_000
_PERIOD_MAX_DAYS = {"week": 7, "month": 31, "quarter": 92}
_CURRENCIES = ("usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "inr", "cny", "sek", "nok", "dkk")
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_WARN_WINDOWS: tuple[tuple[str, int], ...] = (("1d", BURN_WINDOWS.index("1d")), ("6h", BURN_WINDOWS.index("6h")))

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def currency_of(metric: str) -> str | None:
    """The ISO currency code a spend metric's name carries (``redline_spend_usd_total`` → ``USD``)."""
    for part in metric.lower().split("_"):
        if part in _CURRENCIES:
            return part.upper()
    return None


def _money(x: float, currency: str | None) -> str:
    """``$31,200``, ``$12.50``, ``$0.4125``; a code prefix for currencies without a symbol."""
    prefix = _SYMBOLS.get(currency or "", f"{currency} " if currency else "")
    a = abs(x)
    if a >= 100:
        body = f"{a:,.0f}"
    elif a >= 1 or a == 0:
        body = f"{a:,.2f}" if a else "0"
    else:
        body = f"{a:.4f}".rstrip("0")
        body += "0" * max(0, 4 - len(body))  # at least two decimals: 0.40
    return f"{'-' if x < 0 and body != '0' else ''}{prefix}{body}"


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass
class _Guard:
    spec: GuardrailSpec
    spend: int  # template index
    inferences: int = -1
    window_ms: int = 0
    currency: str | None = None


class GuardrailEvaluator:
    """Evaluates budget and cost-per-1k guardrails over ingested spend and inference samples.

    Not thread-safe: one writer at a time. Ingesting in one frame (cold start) or scrape by
    scrape gives the same results.
    """

    def __init__(self, specs: Sequence[GuardrailSpec]) -> None:
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"guardrail names must be unique; repeated: {', '.join(dupes)}")
        templates: list[Template] = []
        index: dict[tuple[str, str, tuple[str, ...], bool], int] = {}

        def template(t: Template) -> int:
            if t.key not in index:
                index[t.key] = len(templates)
                templates.append(t)
            return index[t.key]

        self._guards: list[_Guard] = []
        keep_days = 3.0
        for spec in specs:
            if spec.budget is not None:
                b = spec.budget
                g = _Guard(spec, template(Template(b.spend, b.decreases, b.showback_by, timed=True)))
                keep_days = max(keep_days, _PERIOD_MAX_DAYS[b.period])
            else:
                c = spec.cost_per_1k
                assert c is not None
                g = _Guard(
                    spec,
                    template(Template(c.spend, c.decreases, c.showback_by, timed=True)),
                    template(Template(c.inferences, "reset", c.showback_by)),
                    round(spec.window * 1000),
                )
                keep_days = max(keep_days, spec.window / 86400)
            g.currency = currency_of(templates[g.spend].selector.metric)
            self._guards.append(g)
        self._templates = templates
        self._store = SpendTracks(templates, keep_minutes=math.ceil(keep_days * 1440) + 1440 + 60)

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
        ``slo.cumulative``)."""
        return self._store.nbytes()

    # -- evaluate --------------------------------------------------------------------------

    def evaluate(self, at_ms: int) -> list[ObjectiveResult]:
        """Every guardrail at ``at_ms`` (data after it is ignored), in configuration order."""
        store = self._store
        bounds_of: dict[tuple[str, str, str], tuple[int, int]] = {}
        windows: dict[int, int] = {w: i for i, w in enumerate(_BURN_MS)}

        def column(w: int) -> int:
            return windows.setdefault(w, len(windows))

        n_sides = store.sides.n
        side_first = store.first_ts(np.arange(n_sides, dtype=np.int64))
        live_first = side_first[(side_first != NO_TS) & (side_first <= at_ms)]
        col_all = column(at_ms - int(live_first.min()) + 1 if len(live_first) else 1)
        for g in self._guards:
            b = g.spec.budget
            if b is not None:
                key = (b.period, b.timezone, b.week_start)
                if key not in bounds_of:
                    bounds_of[key] = period_bounds(at_ms, b.period, b.timezone, b.week_start)
                column(at_ms - bounds_of[key][0])
            else:
                column(g.window_ms)
        w_arr = np.asarray(list(windows), dtype=np.int64)
        inc = store.increases(at_ms, w_arr)

        _, value_side, time_side = store.track_arrays()
        track_inc = inc[value_side]
        # newest sample at or before ``at`` per track (a time side holds newest − first)
        timed = np.maximum(time_side, 0)
        t_first = side_first[timed]
        has_time = (time_side >= 0) & (t_first != NO_TS) & (t_first <= at_ms)
        newest = np.where(has_time, inc[timed, col_all] + t_first, -np.inf) if len(timed) else np.zeros(0)
        v_first = side_first[value_side]
        sums, newest_t, first_t = _per_template(store.template_tracks, track_inc, newest, v_first, at_ms)

        results: list[ObjectiveResult] = []
        for g in self._guards:
            b = g.spec.budget
            if b is not None:
                ps, pe = bounds_of[(b.period, b.timezone, b.week_start)]
                results.append(
                    self._budget(g, b, at_ms, ps, pe, sums, newest_t, first_t, windows, track_inc)
                )
            else:
                c = g.spec.cost_per_1k
                assert c is not None
                results.append(self._cost(g, c, at_ms, sums, newest_t, windows, track_inc))
        return results

    def _showback(self, template: int, col: int, track_inc: F64, key: str) -> list[dict[str, Any]]:
        """Spend per group of the template's showback labels, largest first."""
        by = self._templates[template].by
        if not by:
            return []
        tracks = self._store.tracks
        spent = [(float(track_inc[tid, col]), tracks[tid].group) for tid in self._store.template_tracks[template]]
        spent.sort(key=lambda r: -r[0])
        return [{**dict(zip(by, group, strict=True)), key: value} for value, group in spent]

    def _budget(
        self, g: _Guard, b: BudgetGuardrail, at_ms: int, ps: int, pe: int, sums: F64, newest: list[float],
        first: list[float], windows: dict[int, int], track_inc: F64,
    ) -> ObjectiveResult:
        spec = g.spec
        period_s = (pe - ps) / 1000.0
        col = windows[at_ms - ps]
        row: list[float] = sums[g.spend].tolist()
        spent = row[col]
        last = newest[g.spend]
        cur = g.currency
        common: dict[str, Any] = {
            "name": spec.name, "kind": "budget", "dimension": spec.dimension, "objective": b.limit,
            "window": b.period, "window_seconds": period_s,
        }
        details: dict[str, Any] = {
            "currency": cur, "limit": b.limit, "period_start": ps / 1000.0, "period_end": pe / 1000.0,
        }
        if last < ps:
            since = datetime.fromtimestamp(ps / 1000, _zone(b.timezone)).strftime("%Y-%m-%d %H:%M")
            details.update(spent=None, forecast=None, overrun=None, crosses_at=None, run_rate_per_day=None, showback=[])
            return ObjectiveResult(
                **common, sli=None, budget_remaining=None, burn_rates=dict.fromkeys(BURN_WINDOWS),
                time_to_breach_seconds=None, status="no_data",
                reason=f"no spend samples this {b.period} (since {since} {b.timezone})", details=details,
            )
        pace = b.limit / period_s
        burn_rates: dict[str, float | None] = {
            w: (row[i] / (w_ms / 1000.0)) / pace if last > at_ms - w_ms else None
            for i, (w, w_ms) in enumerate(zip(BURN_WINDOWS, _BURN_MS, strict=True))
        }
        rate_s: float | None
        if first[g.spend] <= at_ms - _DAY_MS:
            rate_s = row[windows[_DAY_MS]] / 86400.0
        else:
            elapsed = (at_ms - max(ps, first[g.spend])) / 1000.0
            rate_s = spent / elapsed if elapsed > 0 else None
        left_s = (pe - at_ms) / 1000.0
        forecast = spent + (rate_s or 0.0) * left_s
        overrun = max(0.0, forecast - b.limit)
        crosses_at: float | None = None
        ttb: float | None = None
        if spent >= b.limit:
            ttb = 0.0
        elif rate_s is not None and rate_s > 0 and (b.limit - spent) / rate_s < left_s:
            ttb = (b.limit - spent) / rate_s
            crosses_at = at_ms / 1000.0 + ttb
        used = spent / b.limit
        head = f"spent {_money(spent, cur)} of {_money(b.limit, cur)} ({used * 100:.0f}%)"
        if rate_s is None:
            tail = "no run rate yet"
        else:
            tail = f"at {_money(rate_s * 86400, cur)}/day the {b.period} ends at {_money(forecast, cur)}"
        status: Status
        if spent >= b.limit:
            status = "breached"
            reason = f"{head}: over by {_money(spent - b.limit, cur)}; {tail}"
        elif crosses_at is not None:
            status = "warning"
            day = datetime.fromtimestamp(crosses_at, _zone(b.timezone)).strftime("%Y-%m-%d")
            reason = f"{head}; {tail} — over by {_money(overrun, cur)} on {day}"
        else:
            status = "ok"
            under = f", {_money(b.limit - forecast, cur)} under" if rate_s is not None else ""
            reason = f"{head}; {tail}{under}"
        details.update(
            spent=spent, forecast=forecast, overrun=overrun, crosses_at=crosses_at,
            run_rate_per_day=_finite(rate_s * 86400) if rate_s is not None else None,
            showback=self._showback(g.spend, col, track_inc, "spent"),
        )
        return ObjectiveResult(
            **common, sli=used, budget_remaining=1.0 - used, burn_rates=burn_rates, time_to_breach_seconds=ttb,
            status=status, reason=reason, events=spent, details=details,
        )

    def _cost(
        self, g: _Guard, c: CostPer1kGuardrail, at_ms: int, sums: F64, newest: list[float],
        windows: dict[int, int], track_inc: F64,
    ) -> ObjectiveResult:
        spec = g.spec
        col = windows[g.window_ms]
        spend_row: list[float] = sums[g.spend].tolist()
        inf_row: list[float] = sums[g.inferences].tolist()
        last = newest[g.spend]
        cur = g.currency
        window = format_duration(spec.window)
        spend, infs = spend_row[col], inf_row[col]
        common: dict[str, Any] = {
            "name": spec.name, "kind": "cost_per_1k", "dimension": spec.dimension, "objective": c.max,
            "window": window, "window_seconds": spec.window,
        }
        details: dict[str, Any] = {
            "currency": cur, "max": c.max, "window_start": (at_ms - g.window_ms) / 1000.0,
            "spend": spend if last > at_ms - g.window_ms else None, "inferences": infs,
        }
        if infs <= 0 or last <= at_ms - g.window_ms:
            missing = "inferences" if infs <= 0 else "spend samples"
            details.update(cost_per_1k=None, showback=[])
            return ObjectiveResult(
                **common, sli=None, budget_remaining=None, burn_rates=dict.fromkeys(BURN_WINDOWS),
                time_to_breach_seconds=None, status="no_data", reason=f"no {missing} in the last {window}",
                details=details,
            )
        cost = spend / (infs / 1000.0)
        burn_rates: dict[str, float | None] = {
            w: (spend_row[i] / (inf_row[i] / 1000.0)) / c.max if inf_row[i] > 0 and last > at_ms - w_ms else None
            for i, (w, w_ms) in enumerate(zip(BURN_WINDOWS, _BURN_MS, strict=True))
        }
        head = f"{_money(cost, cur)} per 1k inferences over {window} (max {_money(c.max, cur)})"
        recent = next(((w, burn_rates[w]) for w, _ in _WARN_WINDOWS if burn_rates[w] is not None), None)
        status: Status
        if cost > c.max:
            status = "breached"
            reason = f"{head}: {(cost / c.max - 1) * 100:.0f}% over"
        elif recent is not None and (recent[1] or 0.0) > 1.0:
            status = "warning"
            reason = f"{head}, but the last {recent[0]} ran at {_money((recent[1] or 0.0) * c.max, cur)} per 1k"
        else:
            status = "ok"
            reason = head if recent is None else f"{head}; last {recent[0]} {_money((recent[1] or 0.0) * c.max, cur)}"
        details.update(cost_per_1k=cost, showback=self._cost_showback(g, col, track_inc))
        return ObjectiveResult(
            **common, sli=cost, budget_remaining=1.0 - cost / c.max, burn_rates=burn_rates,
            time_to_breach_seconds=0.0 if status == "breached" else None, status=status, reason=reason,
            events=infs, details=details,
        )

    def _cost_showback(self, g: _Guard, col: int, track_inc: F64) -> list[dict[str, Any]]:
        """Spend, inferences and cost per 1k per group present on both sides; a group found on one
        side only says which side it is ``missing`` from (an absent label is ``None``)."""
        by = self._templates[g.spend].by
        if not by:
            return []
        store = self._store
        spend = {store.tracks[t].group: float(track_inc[t, col]) for t in store.template_tracks[g.spend]}
        infs = {store.tracks[t].group: float(track_inc[t, col]) for t in store.template_tracks[g.inferences]}
        rows: list[dict[str, Any]] = []
        for group in sorted(spend.keys() | infs.keys(), key=lambda k: tuple("" if v is None else v for v in k)):
            s, n = spend.get(group), infs.get(group)
            missing = "inferences" if n is None else "spend" if s is None else None
            cost = s / (n / 1000.0) if s is not None and n is not None and n > 0 else None
            labels: dict[str, Any] = dict(zip(by, group, strict=True))
            rows.append({**labels, "spend": s, "inferences": n, "cost_per_1k": cost, "missing": missing})
        rows.sort(key=lambda r: -(r["spend"] if r["spend"] is not None else -math.inf))
        return rows


def _per_template(
    template_tracks: list[list[int]], track_inc: F64, newest: F64, first: I64, at_ms: int
) -> tuple[F64, list[float], list[float]]:
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
    return sums, newest_t.tolist(), first_t.tolist()
