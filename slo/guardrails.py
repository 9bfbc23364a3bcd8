"""Cost guardrails: a spend budget per calendar period and a maximum cost per 1,000 inferences.

``GuardrailEvaluator`` has the shape of ``slo.engine.SLOEvaluator`` (``selectors``, ``ingest``,
``evaluate``) and returns ``ObjectiveResult``s with every field set, so the agent ranks them
with the objectives (``slo.ranking``). Pure: samples in, frozen results out, times are parameters.
It is a facade: the spend and inference series live in ``slo.guardrail_store``, the figures per
template in ``slo.guardrail_sums``, each kind's kernel and results in ``slo.guardrail_budgets`` and
``slo.guardrail_costs``, and showback in ``slo.guardrail_showback``.

"Spend" is money spent: the increase of a spend counter. A budget's ``details`` carry it as
``spent`` and, the same figure, as ``spend`` (the key of cost guardrails).

What the result fields mean for a guardrail (``details`` holds the figures in currency):

**budget** (the calendar period containing ``at``, in the spec's time zone):

- ``target`` is the *limit in currency* (not a ratio); ``window`` the period name
  (``month``), ``window_seconds`` the period's length (DST days included);
- spend = the summed spend series' increase since the period start (value at or before ``at``
  minus value at or before the start; a series that starts inside the period counts from its
  first sample; a drop is a credit or a counter reset per ``decreases``);
- ``value`` = spend (in currency), ``budget_used_ratio`` = spend / limit, ``budget_remaining`` = 1 − it;
- ``burn_rates[w]`` = (spend over w / w) / (limit / period length): 1.0 spends exactly the limit
  by the period end; ``None`` when w holds no spend sample;
- run rate = spend over the last 24 h per day (the period-to-date average when the series are
  younger than a day); forecast = spend + run rate × time left; ``crosses_at`` = when the
  forecast crosses the limit, if before the period end;
- ``time_to_breach_seconds`` = 0 once spend ≥ limit, else seconds until ``crosses_at``, else
  ``None``; status ``breached`` (spend ≥ limit), ``warning`` (forecast > limit), ``no_data``
  (no spend sample in the period: never a $0 "ok"), else ``ok``; ``events`` = spend.

**cost_per_1k** (the rolling ``window``):

- ``target`` is the *maximum cost per 1,000 inferences in currency*; ``value`` = spend increase
  over the window / (inference increase / 1000); ``budget_used_ratio`` = cost / max;
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

import numpy as np
import polars as pl

from redline.kernel.labels import Selector
from redline.slo.calendar import Period, period_bounds
from redline.slo.guardrail_budgets import BudgetGuard, BudgetGuardrails
from redline.slo.guardrail_costs import CostGuard, CostGuardrails
from redline.slo.guardrail_showback import CostJoin, ShowbackView
from redline.slo.guardrail_store import SpendTracks, Template
from redline.slo.guardrail_sums import BURN_MS_ARRAY, WindowColumns, template_sums
from redline.slo.results import ObjectiveResult
from redline.slo.spec import PERIOD_MAX_SECONDS, GuardrailSpec

__all__ = ["GuardrailEvaluator", "currency_of"]

_CURRENCIES = ("usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "inr", "cny", "sek", "nok", "dkk")
_BURN_KEEP_DAYS = 3.0
"""Every template keeps at least the longest burn window."""
_MARGIN_MINUTES = 1440 + 120
"""Each ring keeps its guardrails' longest window plus this: ``evaluate``'s ``at`` may lie a day
(and an hour) before the newest sample, and a window's start then never falls in the oldest hour
kept, where samples arriving late from before the ring are folded in (older ``at``s read the
oldest minute kept)."""


def currency_of(metric: str) -> str | None:
    """The ISO currency code a spend metric's name carries (``redline_spend_usd_total`` → ``USD``)."""
    for part in metric.lower().split("_"):
        if part in _CURRENCIES:
            return part.upper()
    return None


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
        self._templates: list[Template] = []
        self._keep_days: list[float] = []
        self._template_index: dict[tuple[str, str, tuple[str, ...], bool], int] = {}
        periods: dict[tuple[Period, str, str], int] = {}
        budgets: list[BudgetGuard] = []
        costs: list[CostGuard] = []
        for position, spec in enumerate(specs):
            if spec.budget is not None:
                budget = spec.budget
                spend = self._template(
                    Template(budget.spend, budget.decreases, budget.showback_by, timed=True),
                    PERIOD_MAX_SECONDS[budget.period] / 86400,
                )
                budgets.append(BudgetGuard(
                    position, spec.name, spec.dimension, currency_of(budget.spend.metric), budget.period,
                    budget.timezone, spend, periods.setdefault((budget.period, budget.timezone, budget.week_start),
                                                               len(periods)), budget.limit,
                ))
            else:
                cost = spec.cost_per_1k
                assert cost is not None
                days = spec.window / 86400
                spend = self._template(Template(cost.spend, cost.decreases, cost.showback_by, timed=True), days)
                inferences = self._template(Template(cost.inferences, "reset", cost.showback_by), days)
                costs.append(CostGuard(
                    position, spec.name, spec.dimension, currency_of(cost.spend.metric), spec.window, spend,
                    inferences, cost.max,
                ))
        self._count = len(specs)
        self._periods = list(periods)
        self._budgets = BudgetGuardrails(budgets)
        self._costs = CostGuardrails(costs)
        self._joins: dict[tuple[int, int], CostJoin] = {}
        self._store = SpendTracks(
            self._templates, [math.ceil(d * 1440) + _MARGIN_MINUTES for d in self._keep_days], _MARGIN_MINUTES + 60
        )

    def _template(self, template: Template, keep_days: float) -> int:
        """The index of ``template`` (added when new), keeping at least ``keep_days`` of it."""
        index = self._template_index.get(template.key)
        if index is None:
            index = self._template_index[template.key] = len(self._templates)
            self._templates.append(template)
            self._keep_days.append(_BURN_KEEP_DAYS)
        self._keep_days[index] = max(self._keep_days[index], keep_days)
        return index

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

    def evaluate(self, at_ms: int) -> list[ObjectiveResult]:
        """Every guardrail at ``at_ms`` (data after it is ignored), in configuration order.

        The figures are computed as arrays for all guardrails of a kind at once (one lookup of
        every track and window); Python only formats the reasons and builds the results."""
        bounds = [period_bounds(at_ms, *key) for key in self._periods]
        windows = WindowColumns()
        period_columns = np.asarray([windows.column(at_ms - start) for start, _ in bounds], dtype=np.int64)
        cost_columns = np.asarray([windows.column(w) for w in self._costs.window_ms.tolist()], dtype=np.int64)
        need = np.zeros((len(self._templates), len(windows)), dtype=np.bool_)
        need[:, : len(BURN_MS_ARRAY)] = True  # the burn windows, read by both kinds
        need[self._budgets.template, period_columns[self._budgets.period_key]] = True
        need[self._costs.spend_template, cost_columns] = True
        need[self._costs.inference_template, cost_columns] = True
        sums = template_sums(self._store, at_ms, windows, need)
        view = ShowbackView(self._templates, self._store, sums.track_increase, self._joins)
        out: list[ObjectiveResult | None] = [None] * self._count
        if self._budgets.guards:
            self._budgets.results(self._budgets.figures(at_ms, bounds, period_columns, sums), view, out)
        if self._costs.guards:
            self._costs.results(self._costs.figures(at_ms, cost_columns, sums), cost_columns, view, out)
        return [r for r in out if r is not None]
