"""Query SLIs: PromQL run as written on a backend, per window, and the objectives on the answers.

A query SLI (``sli.query``, or an OpenSLO/Sloth file loaded with ``backend:``) is evaluated by
the backend, not by the embedded engine. Two halves, both pure:

- ``window_queries(spec, at_ms)``: the expressions the agent sends at ``at_ms`` — one per side
  (``errors``/``good``/``total``/``error_ratio``), each the user's query with ``{{.window}}``
  set to every burn window and to the objective's window, joined with ``or`` and told apart by
  a ``window`` label (``label_replace``). Two requests per objective per collection, whatever
  the number of windows. A calendar objective's window is the time since its period started.
  An ``errors`` query is asked ``(QUERY) or on() vector(0)``, so "no such series" is 0
  (``side_expression``, which ``redline rules`` records too).
- ``QueryEvaluator``: reads the recorded answers (``redline_query_sli{slo, side, window}``, one
  sample per side and window per collection) and builds the same ``ObjectiveResult`` as every
  other objective: error ratio per window → burn rates, the objective window's ratio →
  compliance and budget left, time to breach, status.

Semantics an SRE can check against the backend: the error ratio of a window is ``errors /
total`` (``1 - good / total``; ``error_ratio`` as answered), clipped to [0, 1], from one
collection: the newest within the staleness in which every side answered (else the newest, whose
missing side is named). An ``errors`` side with no series is 0 (a ``sum(rate(...{code=~"5.."}
[W]))`` over no 5xx series yet); a ``good``, ``total`` or ``error_ratio`` side with none is
unknown, and a total of 0 is a window without traffic (unknown, never 100%). Nothing is recorded
when the backend fails, so a backend down longer than the staleness reads ``no_data`` with the
reason. The staleness is the configured one, else twice the typical time between collections
(the median of the last few), at least 5 minutes. Evaluations go forward in time (the agent, a burn-down, a
backtest): answers too old for the latest instant evaluated are let go.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.labels import Selector
from redline.slo.calendar import calendar_bounds
from redline.slo.objective_result import ResultBasis, objective_result
from redline.slo.query_answers import DEFAULT_STALENESS_S, AnswerLookup, missing_reason
from redline.slo.query_expressions import (
    OBJECTIVE_WINDOW,
    QUERY_SLI_METRIC,
    recorded_selector,
    side_expression,
    window_lengths,
    window_queries,
)
from redline.slo.query_table import COLUMNS, WINDOWS, QueryObjective, add_collection, add_runs, column
from redline.slo.results import ObjectiveResult
from redline.slo.series.batches import series_runs
from redline.slo.series.index import SeriesIndex
from redline.slo.spec import SLOSpec

__all__ = [
    "DEFAULT_STALENESS_S",
    "OBJECTIVE_WINDOW",
    "QUERY_SLI_METRIC",
    "QueryEvaluator",
    "recorded_selector",
    "side_expression",
    "window_lengths",
    "window_queries",
]

_SMALL_BATCH = 50_000
"""Batches up to this many rows (a collection) are handled as whole arrays, larger ones run by run."""

I64 = npt.NDArray[np.int64]


class QueryEvaluator:
    """Objectives of query SLIs from their recorded answers: ``ingest(frame)``, ``evaluate(at_ms)``."""

    def __init__(self, specs: Sequence[SLOSpec]) -> None:
        self._objectives: list[QueryObjective] = []
        for spec in specs:
            assert spec.sli.query is not None, f"{spec.name} has no query SLI"
            stale = spec.sli.query.staleness
            self._objectives.append(
                QueryObjective(ResultBasis(spec), spec.sli.query, None if stale is None else round(stale * 1000))
            )
        self._index = {o.basis.spec.name: i for i, o in enumerate(self._objectives)}
        self._series = SeriesIndex([QUERY_SLI_METRIC], self._register)
        self._codes: list[int] = []
        """Each recorded series' code (``_register``)."""
        self._code_of = np.full(1, -1, dtype=np.int64)
        """``_codes`` then -1, so that series id -1 (no objective reads it) maps to code -1;
        rebuilt when series were added."""
        self._lookup = AnswerLookup(self._objectives)
        self._budgets = np.array([1.0 - o.basis.target for o in self._objectives], dtype=np.float64)
        self._evaluated_ms = 0
        """The latest instant evaluated: evaluations go forward (agent, burn-down, backtest), so
        answers too old for it are trimmed."""

    @property
    def names(self) -> frozenset[str]:
        """The objectives' names."""
        return frozenset(self._index)

    def selectors(self) -> list[Selector]:
        """The recorded answers of every objective."""
        return [recorded_selector(o.basis.spec) for o in self._objectives]

    def _register(self, sid: int, metric: str, parsed: dict[str, str]) -> bool:
        """File a recorded series under its code, ``objective index × COLUMNS + column``; whether
        an objective reads it."""
        index = self._index.get(parsed.get("slo", ""), -1)
        side, window = parsed.get("side", ""), parsed.get("window", "")
        if not (metric == QUERY_SLI_METRIC and index >= 0 and side in self._objectives[index].sides
                and window in WINDOWS):
            return False
        self._codes.append(index * COLUMNS + column(side, window))
        return True

    def _series_codes(self, sids: I64) -> I64:
        """Each series' code (-1 for series id -1)."""
        if len(self._code_of) != len(self._codes) + 1:
            self._code_of = np.asarray([*self._codes, -1], dtype=np.int64)
        out: I64 = self._code_of[sids]
        return out

    def ingest(self, samples: pl.DataFrame) -> None:
        """Take the recorded answers out of ``samples`` (any order; other rows are ignored).

        A small batch (a collection) is placed as whole arrays (``add_collection``); a large one
        (a cold start) run by run (``add_runs``; a run: consecutive rows of one recorded series,
        as the store returns them).
        """
        if not self._objectives or samples.is_empty():
            return
        rows = samples.filter((pl.col("metric") == QUERY_SLI_METRIC) & pl.col("timestamp").is_not_null())
        if rows.is_empty():
            return
        if rows.height <= _SMALL_BATCH:
            labels = rows.get_column("labels")
            code = self._series_codes(np.fromiter(
                (self._series.id_of(QUERY_SLI_METRIC, text) for text in labels.to_list()), dtype=np.int64,
                count=rows.height,
            ))
            ts = rows.get_column("timestamp").to_numpy().astype(np.int64)
            add_collection(self._objectives, code, ts, rows.get_column("value").to_numpy().astype(np.float64), labels)
            return
        found = series_runs(rows, self._series.id_of)
        if found is None:
            return
        rows, starts, lengths, run_sid = found
        add_runs(
            self._objectives, self._series_codes(run_sid), starts, lengths,
            rows.get_column("timestamp").to_numpy().astype(np.int64),
            rows.get_column("value").to_numpy().astype(np.float64), rows.get_column("labels"),
        )

    def evaluate(self, at_ms: int) -> list[ObjectiveResult]:
        """Every objective at ``at_ms`` (answers after it are ignored), in the order given.

        Per objective and window: burn rate = error ratio / (1 − target); over the objective
        window, SLI = 1 − error ratio and budget left = 1 − error ratio / (1 − target)."""
        if not self._objectives:
            return []
        periods = [self._period(o, at_ms) for o in self._objectives]
        answers, found, staleness = self._lookup.answers(at_ms, periods)
        ratios = self._lookup.error_ratios(answers, found)
        burns = (ratios[:, :-1] / self._budgets[:, None]).astype(object)
        burns[np.isnan(ratios[:, :-1])] = None
        burn_rows: list[list[float | None]] = burns.tolist()
        slo_ratio = ratios[:, -1]
        known: list[bool] = (~np.isnan(slo_ratio)).tolist()
        slo_ratio = np.nan_to_num(slo_ratio)
        slis: list[float] = (1.0 - slo_ratio).tolist()
        left: list[float] = (1.0 - slo_ratio / self._budgets).tolist()
        totals: list[float] = np.nan_to_num(answers[:, COLUMNS - 1]).tolist()
        out = []
        for i, objective in enumerate(self._objectives):
            events = totals[i] if objective.sli.total is not None else 0.0
            result = objective_result(
                objective.basis, burn_rows[i], known[i], slis[i], left[i], events, "", periods[i], at_ms
            )
            if not known[i]:
                missing = missing_reason(objective, answers[i], bool(found[i]), staleness[i])
                if missing:
                    result = replace(result, reason=missing)
            several = [m for t, m in objective.several.items() if at_ms - staleness[i] <= t <= at_ms]
            out.append(result.unusable(several[0]) if several else result)
        if at_ms >= self._evaluated_ms:
            self._evaluated_ms = at_ms
            for objective, limit in zip(self._objectives, staleness, strict=True):
                objective.table.trim(at_ms - limit)
                for t in [t for t in objective.several if t < at_ms - limit]:
                    del objective.several[t]
        return out

    @staticmethod
    def _period(objective: QueryObjective, at_ms: int) -> tuple[int, int] | None:
        cal = objective.basis.spec.calendar
        return None if cal is None else calendar_bounds(at_ms, cal)

    def error_ratios(self, at_ms: int, name: str) -> dict[str, float | None]:
        """The error ratio per burn window and for the objective window (keyed ``"slo"``)."""
        answers, found, _ = self._lookup.answers(at_ms, [self._period(o, at_ms) for o in self._objectives])
        row = self._lookup.error_ratios(answers, found)[self._index[name]].tolist()
        return {w: (None if math.isnan(r) else r) for w, r in zip(WINDOWS, row, strict=True)}

    def collections_held(self) -> int:
        """Collections held, over every objective (trimmed ones not counted)."""
        return sum(o.table.held() for o in self._objectives)

    def memory_bytes(self) -> int:
        """Bytes held by the recorded answers."""
        return sum(o.table.nbytes() for o in self._objectives)
