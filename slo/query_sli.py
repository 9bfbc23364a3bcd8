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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.labels import Matcher, Selector
from redline.kernel.units import format_duration, parse_duration
from redline.slo.calendar import period_bounds
from redline.slo.objective_result import ResultBasis, objective_result
from redline.slo.results import ObjectiveResult
from redline.slo.series.batches import series_runs
from redline.slo.series.index import SeriesIndex
from redline.slo.spec import BURN_WINDOWS, WINDOW_PLACEHOLDER_RE, QuerySLI, SLOSpec

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

QUERY_SLI_METRIC = "redline_query_sli"
"""The metric the answers are recorded under, labelled ``slo``, ``side`` and ``window``."""
OBJECTIVE_WINDOW = "slo"
"""The ``window`` label of the objective's own window (stable across calendar periods)."""
DEFAULT_STALENESS_S = 300.0
"""Prometheus's lookback delta: the least an unset staleness allows (see ``QuerySLI.staleness``)."""

_WINDOWS: tuple[str, ...] = (*BURN_WINDOWS, OBJECTIVE_WINDOW)
_BURN_S: tuple[float, ...] = tuple(parse_duration(w) for w in BURN_WINDOWS)
_MIN_PERIOD_S = 60
"""A calendar period's window is at least this long (its first minute is still a window)."""

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def recorded_selector(spec: SLOSpec) -> Selector:
    """The selector of an objective's recorded answers."""
    return Selector(QUERY_SLI_METRIC, (Matcher("slo", "=", spec.name),))


def window_lengths(spec: SLOSpec, at_ms: int) -> dict[str, float]:
    """Seconds of every window a query SLI is asked over at ``at_ms``: the burn windows, then
    ``OBJECTIVE_WINDOW`` (the rolling window, or the time since the calendar period started)."""
    own = spec.window
    if spec.calendar is not None:
        cal = spec.calendar
        start_ms, _ = period_bounds(at_ms, cal.period, cal.timezone, cal.week_start)
        own = max((at_ms - start_ms) // 1000, _MIN_PERIOD_S)
    return {**dict(zip(BURN_WINDOWS, _BURN_S, strict=True)), OBJECTIVE_WINDOW: float(own)}


def side_expression(side: str, query: str, window: str) -> str:
    """One side's query over ``window`` (a PromQL duration) as Redline runs it and records it:
    ``{{.window}}`` set; an ``errors`` query that answers no series (no 5xx series yet) read as 0
    (``or on() vector(0)``, which adds nothing when the query has an answer). A ``good``,
    ``total`` or ``error_ratio`` query without an answer stays unknown, never 0% or 100%."""
    expr = WINDOW_PLACEHOLDER_RE.sub(window, query)
    return f"({expr}) or on() vector(0)" if side == "errors" else expr


def window_queries(spec: SLOSpec, at_ms: int) -> list[tuple[str, str]]:
    """``(side, expression)`` for every side of ``spec``'s query SLI at ``at_ms``: the query once
    per window, each answer labelled ``window="<name>"``, joined with ``or``."""
    sli = spec.sli.query
    assert sli is not None, f"{spec.name} has no query SLI"
    lengths = window_lengths(spec, at_ms)
    return [
        (side, " or ".join(
            f'label_replace(({side_expression(side, query, format_duration(seconds))}), "window", "{name}", "", "")'
            for name, seconds in lengths.items()
        ))
        for side, query in sli.queries().items()
    ]


class _Table:
    """One objective's answers: a row per collection time (sorted), a column per slot and window
    (``_column``); NaN where that side did not answer."""

    def __init__(self) -> None:
        self.ts = np.zeros(0, dtype=np.int64)
        self.rows = np.zeros((0, _COLUMNS), dtype=np.float64)
        self.n = 0
        self.lo = 0
        """Rows before ``lo`` are trimmed (``trim``): too old for any later evaluation."""
        self.gaps: deque[int] = deque(maxlen=_GAPS_KEPT)
        """The last few times between consecutive collections (ms), kept through trims."""

    def interval_ms(self) -> int:
        """The typical time between collections: the median of the last few gaps (an outage is
        one gap among them, so it does not stretch the staleness), 0 before two collections."""
        return int(np.median(self.gaps)) if self.gaps else 0

    def add(self, ts: I64, rows: F64) -> None:
        """Add rows at ``ts`` (sorted, distinct); at a time already held, a newer answer of a
        side and window replaces the older one."""
        n, k = self.n, len(ts)
        if n == 0 or ts[0] > self.ts[n - 1]:
            if n + k > len(self.ts):
                cap = max(n + k + (n + k) // 4, 2 * len(self.ts), 64)  # room for the next collections
                grown_ts = np.empty(cap, dtype=np.int64)
                grown_ts[:n] = self.ts[:n]
                grown = np.full((cap, _COLUMNS), np.nan)
                grown[:n] = self.rows[:n]
                self.ts, self.rows = grown_ts, grown
            self.ts[n:n + k] = ts
            self.rows[n:n + k] = rows
            self.gaps.extend(np.diff(self.ts[max(n - 1, 0):n + k]).tolist()[-_GAPS_KEPT:])
            self.n = n + k
            return
        lo = self.lo
        times, inverse = np.unique(np.concatenate([self.ts[lo:n], ts]), return_inverse=True)
        merged = np.full((len(times), _COLUMNS), np.nan)
        for part, where in ((self.rows[lo:n], inverse[: n - lo]), (rows, inverse[n - lo:])):  # older, then newer
            r, c = np.nonzero(~np.isnan(part))
            merged[where[r], c] = part[r, c]
        self.ts, self.rows, self.n, self.lo = times, merged, len(times), 0
        self.gaps = deque(np.diff(times[-_GAPS_KEPT - 1:]).tolist(), maxlen=_GAPS_KEPT)

    def newest(self, at_ms: int) -> int:
        """The index of the newest row at or before ``at_ms``, or -1."""
        i = self.lo + int(np.searchsorted(self.ts[self.lo:self.n], at_ms, side="right")) - 1
        return i if i >= self.lo else -1

    def trim(self, before_ms: int) -> None:
        """Forget rows older than ``before_ms`` but the newest of them (an interval to measure)."""
        cut = self.lo + int(np.searchsorted(self.ts[self.lo:self.n], before_ms, side="left")) - 1
        if cut <= self.lo:
            return
        self.lo = cut
        if self.lo >= 1024 and self.lo > self.n // 2:  # give the memory back now and then
            self.ts, self.rows = self.ts[self.lo:self.n].copy(), self.rows[self.lo:self.n].copy()
            self.n -= self.lo
            self.lo = 0

    def nbytes(self) -> int:
        return self.ts.nbytes + self.rows.nbytes


_SLOT = {"errors": 0, "good": 0, "error_ratio": 0, "total": 1}
"""Every query SLI has one of errors, good or error_ratio (slot 0) and maybe a total (slot 1)."""
_COLUMNS = 2 * len(_WINDOWS)
_SMALL_BATCH = 50_000
"""Batches up to this many rows (a collection) are handled as whole arrays, larger ones run by run."""
_GAPS_KEPT = 9
"""How many of the last gaps between collections the usual interval is the median of."""


def _column(side: str, window: str) -> int:
    return _SLOT[side] * len(_WINDOWS) + _WINDOWS.index(window)


def _several_why(obj: _QueryObjective, col: int, first: str, second: str) -> str:
    side = next(s for s in obj.sides if _column(s, _WINDOWS[col % len(_WINDOWS)]) == col)
    return (
        f"the {side} query answers with more than one series for one window ({first}; {second}): "
        "a query SLI needs one series per window — aggregate with sum()"
    )


def _rows_of(runs: list[tuple[int, int, int]], ts: I64, values: F64) -> tuple[I64, F64]:
    """One objective's rows from its runs ``(start, length, column)`` of ``ts``/``values``: the
    distinct times, sorted, and a row per time (NaN where a column has no answer then; of two
    answers at one time, the later run's)."""
    first_start, first_len, _ = runs[0]
    first = ts[first_start:first_start + first_len]
    columns = [c for _, _, c in runs]
    shared = (
        len(set(columns)) == len(columns)
        and bool(np.all(first[1:] > first[:-1]))
        and all(n == first_len and np.array_equal(ts[s:s + n], first) for s, n, _ in runs[1:])
    )
    if shared:  # the usual case: every side and window answered in the same collections
        table = np.full((first_len, _COLUMNS), np.nan)
        for s, n, c in runs:
            table[:, c] = values[s:s + n]
        return first.copy(), table
    all_ts = np.concatenate([ts[s:s + n] for s, n, _ in runs])
    times, inverse = np.unique(all_ts, return_inverse=True)
    table = np.full((len(times), _COLUMNS), np.nan)
    cols = np.concatenate([np.full(n, c, dtype=np.int64) for _, n, c in runs])
    vals = np.concatenate([values[s:s + n] for s, n, _ in runs])
    table[inverse, cols] = vals
    return times, table


@dataclass
class _QueryObjective:
    basis: ResultBasis
    sli: QuerySLI
    staleness_ms: int | None
    """As configured; None: twice the usual time between collections, at least 5 minutes."""
    table: _Table = field(default_factory=_Table)
    several: dict[int, str] = field(default_factory=dict)
    """Answer time → what came back when a side answered with more than one series per window."""

    @property
    def sides(self) -> list[str]:
        return list(self.sli.queries())


class QueryEvaluator:
    """Objectives of query SLIs from their recorded answers: ``ingest(frame)``, ``evaluate(at_ms)``."""

    def __init__(self, specs: Sequence[SLOSpec]) -> None:
        self._objectives: list[_QueryObjective] = []
        for spec in specs:
            assert spec.sli.query is not None, f"{spec.name} has no query SLI"
            stale = spec.sli.query.staleness
            self._objectives.append(
                _QueryObjective(ResultBasis(spec), spec.sli.query, None if stale is None else round(stale * 1000))
            )
        self._index = {o.basis.spec.name: i for i, o in enumerate(self._objectives)}
        self._series = SeriesIndex([QUERY_SLI_METRIC], self._register)
        self._codes: list[int] = []
        """Each recorded series' code (``_register``)."""
        self._code_of = np.full(1, -1, dtype=np.int64)
        """``_codes`` then -1, so that series id -1 (no objective reads it) maps to code -1;
        rebuilt when series were added."""
        self._has_errors = np.array([o.sli.errors is not None for o in self._objectives], dtype=np.bool_)
        self._has_ratio = np.array([o.sli.error_ratio is not None for o in self._objectives], dtype=np.bool_)
        self._has_total = np.array([o.sli.total is not None for o in self._objectives], dtype=np.bool_)
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
        """File a recorded series under its code, ``objective index × _COLUMNS + column``; whether
        an objective reads it."""
        i = self._index.get(parsed.get("slo", ""), -1)
        side, window = parsed.get("side", ""), parsed.get("window", "")
        if not (metric == QUERY_SLI_METRIC and i >= 0 and side in self._objectives[i].sides and window in _WINDOWS):
            return False
        self._codes.append(i * _COLUMNS + _column(side, window))
        return True

    def _series_codes(self, sids: I64) -> I64:
        """Each series' code (-1 for series id -1)."""
        if len(self._code_of) != len(self._codes) + 1:
            self._code_of = np.asarray([*self._codes, -1], dtype=np.int64)
        out: I64 = self._code_of[sids]
        return out

    def ingest(self, samples: pl.DataFrame) -> None:
        """Take the recorded answers out of ``samples`` (any order; other rows are ignored).

        A small batch (a collection) is placed as whole arrays (``_ingest_rows``); a large one
        (a cold start) run by run (a run: consecutive rows of one recorded series, as the store
        returns them): an objective's runs usually share their times (one collection answers
        every side and window), so its rows are its first run's times and each run fills a column.
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
            self._ingest_rows(code, ts, rows.get_column("value").to_numpy().astype(np.float64), labels)
            return
        found = series_runs(rows, self._series.id_of)
        if found is None:
            return
        rows, starts, lengths, run_sid = found
        run_code = self._series_codes(run_sid)
        ts_all = rows.get_column("timestamp").to_numpy().astype(np.int64)
        val_all = rows.get_column("value").to_numpy().astype(np.float64)
        read = np.flatnonzero(run_code >= 0)
        read = read[np.argsort(run_code[read] // _COLUMNS, kind="stable")]
        run_obj = run_code[read] // _COLUMNS
        bounds = np.flatnonzero(np.diff(run_obj)) + 1
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(read)], strict=True):
            runs = [(int(starts[r]), int(lengths[r]), int(run_code[r]) % _COLUMNS) for r in read[a:b]]
            times, table = _rows_of(runs, ts_all, val_all)
            obj = self._objectives[int(run_obj[a])]
            obj.table.add(times, table)
            cols = [c for _, _, c in runs]
            if len(set(cols)) < len(cols):
                self._flag_several(obj, runs, rows.get_column("labels"), ts_all)

    def _ingest_rows(self, code: I64, ts: I64, values: F64, labels: pl.Series) -> None:
        """A small batch (a collection) as whole arrays: rows sorted by objective and time."""
        keep = np.flatnonzero(code >= 0)
        if not len(keep):
            return
        order = keep[np.lexsort((code[keep], ts[keep], code[keep] // _COLUMNS))]
        code, ts = code[order], ts[order]
        obj, col = code // _COLUMNS, code % _COLUMNS
        starts = np.ones(len(ts), dtype=np.bool_)
        starts[1:] = (obj[1:] != obj[:-1]) | (ts[1:] != ts[:-1])
        table = np.full((int(starts.sum()), _COLUMNS), np.nan)
        table[np.cumsum(starts) - 1, col] = values[order]
        for i in np.flatnonzero(~starts[1:] & (col[1:] == col[:-1])).tolist():  # one side and window twice
            first, second = str(labels[int(order[i])]), str(labels[int(order[i + 1])])
            if first != second:
                o = self._objectives[int(obj[i])]
                o.several[int(ts[i])] = _several_why(o, int(col[i]), first, second)
        row_obj, row_ts = obj[starts], ts[starts]
        bounds = np.flatnonzero(np.diff(row_obj)) + 1
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(row_obj)], strict=True):
            self._objectives[int(row_obj[a])].table.add(row_ts[a:b], table[a:b])

    def _flag_several(self, obj: _QueryObjective, runs: list[tuple[int, int, int]], labels: pl.Series, ts: I64) -> None:
        """Times at which two series answered for one side and window of ``obj``."""
        by_col: dict[int, dict[str, list[I64]]] = {}
        for start, length, col in runs:
            by_col.setdefault(col, {}).setdefault(str(labels[start]), []).append(ts[start:start + length])
        for col, series in by_col.items():
            if len(series) < 2:
                continue
            names = sorted(series)
            seen: dict[int, int] = {}
            for parts in series.values():
                for t in np.unique(np.concatenate(parts)).tolist():
                    seen[t] = seen.get(t, 0) + 1
            why = _several_why(obj, col, names[0], names[1])
            obj.several.update({t: why for t, n in seen.items() if n > 1})

    def evaluate(self, at_ms: int) -> list[ObjectiveResult]:
        """Every objective at ``at_ms`` (answers after it are ignored), in the order given."""
        if not self._objectives:
            return []
        periods = [self._period(o, at_ms) for o in self._objectives]
        answers, found, limits = self._answers(at_ms, periods)
        ratios = self._error_ratios(answers, found)
        burns = (ratios[:, :-1] / self._budgets[:, None]).astype(object)
        burns[np.isnan(ratios[:, :-1])] = None
        burn_rows: list[list[float | None]] = burns.tolist()
        slo = ratios[:, -1]
        known: list[bool] = (~np.isnan(slo)).tolist()
        slo_ratio = np.nan_to_num(slo)
        slis: list[float] = (1.0 - slo_ratio).tolist()
        left: list[float] = (1.0 - slo_ratio / self._budgets).tolist()
        totals: list[float] = np.nan_to_num(answers[:, _COLUMNS - 1]).tolist()
        out = []
        for i, o in enumerate(self._objectives):
            events = totals[i] if o.sli.total is not None else 0.0
            result = objective_result(
                o.basis, burn_rows[i], known[i], slis[i], left[i], events, "", periods[i], at_ms
            )
            if not known[i]:
                missing = self._missing(o, answers[i], bool(found[i]), limits[i])
                if missing:
                    result = replace(result, reason=missing)
            several = [m for t, m in o.several.items() if at_ms - limits[i] <= t <= at_ms]
            out.append(result.unusable(several[0]) if several else result)
        if at_ms >= self._evaluated_ms:
            self._evaluated_ms = at_ms
            for o, limit in zip(self._objectives, limits, strict=True):
                o.table.trim(at_ms - limit)
                for t in [t for t in o.several if t < at_ms - limit]:
                    del o.several[t]
        return out

    @staticmethod
    def _period(o: _QueryObjective, at_ms: int) -> tuple[int, int] | None:
        cal = o.basis.spec.calendar
        return None if cal is None else period_bounds(at_ms, cal.period, cal.timezone, cal.week_start)

    def _answers(
        self, at_ms: int, periods: list[tuple[int, int] | None]
    ) -> tuple[F64, npt.NDArray[np.bool_], list[int]]:
        """Each objective's answers at ``at_ms`` (a NaN row where none), whether it has any, and
        the staleness in force (ms).

        The answers are the newest collection within the staleness in which every side answered
        (one failed request does not blank an objective while an older complete answer is
        recent enough), else the newest collection (its gaps say which side failed). A calendar
        objective does not take its own window from a collection before its period began.
        """
        answers = np.full((len(self._objectives), _COLUMNS), np.nan)
        found = np.zeros(len(self._objectives), dtype=np.bool_)
        chosen = np.zeros(len(self._objectives), dtype=np.int64)
        """The time of each objective's chosen collection."""
        limits: list[int] = []
        oldest: list[int] = []
        for i, o in enumerate(self._objectives):
            t = o.table
            r = t.newest(at_ms)
            limit = o.staleness_ms
            if limit is None:
                limit = max(round(DEFAULT_STALENESS_S * 1000), 2 * t.interval_ms())
            limits.append(limit)
            oldest.append(at_ms - limit)
            if r >= 0 and t.ts[r] >= oldest[i]:
                answers[i], chosen[i], found[i] = t.rows[r], t.ts[r], True
        for i in np.flatnonzero(found & ~self._complete(answers)).tolist():  # rare: a side failed
            t = self._objectives[i].table
            first = t.lo + int(np.searchsorted(t.ts[t.lo:t.n], oldest[i], side="left"))
            last = t.newest(at_ms)
            complete = np.flatnonzero(self._complete(t.rows[first:last + 1], i))
            if len(complete):
                answers[i], chosen[i] = t.rows[first + complete[-1]], t.ts[first + complete[-1]]
        for i, period in enumerate(periods):
            if period is not None and found[i] and chosen[i] < period[0]:
                # A collection from the previous period: its burn windows stand, its own window
                # (that period's) is not this period's.
                for side in self._objectives[i].sides:
                    answers[i, _column(side, OBJECTIVE_WINDOW)] = np.nan
        return answers, found, limits

    def _complete(self, rows: F64, i: int | None = None) -> npt.NDArray[np.bool_]:
        """Whether every side answered in each row (one row per objective, or rows of objective
        ``i``): a side that failed or answered no series has no value for any window."""
        w = len(_WINDOWS)
        has_total = self._has_total if i is None else self._has_total[i]
        return (~np.isnan(rows[:, :w]).all(axis=1)) & (~np.isnan(rows[:, w:]).all(axis=1) | ~has_total)

    def _error_ratios(self, answers: F64, found: npt.NDArray[np.bool_]) -> F64:
        """Error ratio per objective and window (``_WINDOWS`` order), in [0, 1] (two queries can
        disagree by a hair: good a little over total), NaN where unknown: a side missing (its
        query failed or answered no series), a value not finite, or a total of 0 (no traffic)."""
        w = len(_WINDOWS)
        part, total = answers[:, :w], answers[:, w:]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = part / total
            ratio = np.where(self._has_errors[:, None], share, 1.0 - share)
            ratio = np.where(total > 0, ratio, np.nan)
        ratio = np.where(self._has_ratio[:, None], part, ratio)
        ratio[~np.isfinite(ratio)] = np.nan
        ratio[~found] = np.nan
        return np.clip(ratio, 0.0, 1.0)

    def _missing(self, o: _QueryObjective, row: F64, found: bool, limit_ms: int) -> str:
        """Why an objective window has no ratio, when an answer is missing (empty otherwise)."""
        if not found:
            stale = format_duration(limit_ms / 1000)
            return f"no answer from source {o.sli.source!r} in the last {stale} (see its health)"
        absent = [s for s in o.sides if np.isnan(row[_column(s, OBJECTIVE_WINDOW)])]
        if not absent:
            return ""
        noun = "query has" if len(absent) == 1 else "queries have"
        return (
            f"the {' and '.join(absent)} {noun} no answer for the {o.basis.window} window at the last collection: "
            f"it failed, answered no series or answered NaN (see source {o.sli.source!r} health)"
        )

    def error_ratios(self, at_ms: int, name: str) -> dict[str, float | None]:
        """The error ratio per burn window and for the objective window (keyed ``"slo"``)."""
        i = self._index[name]
        answers, found, _ = self._answers(at_ms, [self._period(o, at_ms) for o in self._objectives])
        row = self._error_ratios(answers, found)[i].tolist()
        return {w: (None if math.isnan(r) else r) for w, r in zip(_WINDOWS, row, strict=True)}

    def collections_held(self) -> int:
        """Collections held, over every objective (trimmed ones not counted)."""
        return sum(o.table.n - o.table.lo for o in self._objectives)

    def memory_bytes(self) -> int:
        """Bytes held by the recorded answers."""
        return sum(o.table.nbytes() for o in self._objectives)
