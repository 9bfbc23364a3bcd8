"""Query SLIs: PromQL run as written on a backend, per window, and the objectives on the answers.

A query SLI (``sli.query``, or an OpenSLO/Sloth file loaded with ``backend:``) is evaluated by
the backend, not by the embedded engine. Two halves, both pure:

- ``window_queries(spec, at_ms)``: the expressions the agent sends at ``at_ms`` — one per side
  (``errors``/``good``/``total``/``error_ratio``), each the user's query with ``{{.window}}``
  set to every burn window and to the objective's window, joined with ``or`` and told apart by
  a ``window`` label (``label_replace``). Two requests per objective per collection, whatever
  the number of windows. A calendar objective's window is the time since its period started.
  An ``errors``/``good`` query is asked ``(QUERY) or vector(0)``, so "no such series" is 0.
- ``QueryEvaluator``: reads the recorded answers (``redline_query_sli{slo, side, window}``, one
  sample per side and window per collection) and builds the same ``ObjectiveResult`` as every
  other objective: error ratio per window → burn rates, the objective window's ratio →
  compliance and budget left, time to breach, status.

Semantics an SRE can check against the backend: the error ratio of a window is ``errors /
total`` (``1 - good / total``; ``error_ratio`` as answered) from the newest answer no older than
the staleness; every side must come from the same collection (a side whose query failed leaves
the window unknown), an ``errors``/``good`` side with no series is 0 (a ``sum(rate(...{code=~
"5.."}[W]))`` over no 5xx series yet) and a total of 0 is a window without traffic (unknown,
never 100%). Nothing is recorded when the backend fails, so a backend down longer than the
staleness reads ``no_data`` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import polars as pl

from slo.calendar import period_bounds
from slo.objective_result import ResultBasis, objective_result
from slo.results import ObjectiveResult
from slo.spec import BURN_WINDOWS, WINDOW_PLACEHOLDER_RE, QuerySLI, SLOSpec
from store.types import Matcher, Selector, format_duration, parse_duration, parse_labels

__all__ = [
    "DEFAULT_STALENESS_S",
    "OBJECTIVE_WINDOW",
    "QUERY_SLI_METRIC",
    "QueryEvaluator",
    "recorded_selector",
    "staleness_seconds",
    "window_lengths",
    "window_queries",
]

QUERY_SLI_METRIC = "redline_query_sli"
"""The metric the answers are recorded under, labelled ``slo``, ``side`` and ``window``."""
OBJECTIVE_WINDOW = "slo"
"""The ``window`` label of the objective's own window (stable across calendar periods)."""
DEFAULT_STALENESS_S = 300.0
"""Prometheus's lookback delta: an answer older than this is not the current value."""

_WINDOWS: tuple[str, ...] = (*BURN_WINDOWS, OBJECTIVE_WINDOW)
_BURN_S: tuple[float, ...] = tuple(parse_duration(w) for w in BURN_WINDOWS)
_SIDES: tuple[str, ...] = ("errors", "good", "total", "error_ratio")
_MIN_PERIOD_S = 60
"""A calendar period's window is at least this long (its first minute is still a window)."""

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def recorded_selector(spec: SLOSpec) -> Selector:
    """The selector of an objective's recorded answers."""
    return Selector(QUERY_SLI_METRIC, (Matcher("slo", "=", spec.name),))


def staleness_seconds(sli: QuerySLI) -> float:
    """How old an answer may be and still count."""
    return sli.staleness if sli.staleness is not None else DEFAULT_STALENESS_S


def window_lengths(spec: SLOSpec, at_ms: int) -> dict[str, float]:
    """Seconds of every window a query SLI is asked over at ``at_ms``: the burn windows, then
    ``OBJECTIVE_WINDOW`` (the rolling window, or the time since the calendar period started)."""
    own = spec.window
    if spec.calendar is not None:
        cal = spec.calendar
        start_ms, _ = period_bounds(at_ms, cal.period, cal.timezone, cal.week_start)
        own = max((at_ms - start_ms) // 1000, _MIN_PERIOD_S)
    return {**dict(zip(BURN_WINDOWS, _BURN_S, strict=True)), OBJECTIVE_WINDOW: float(own)}


def _promql_duration(seconds: float) -> str:
    """A PromQL range: ``5m``, ``30d``; whole seconds when it is not a round duration."""
    text = format_duration(seconds)
    return text if "." not in text else f"{max(1, round(seconds))}s"


def window_queries(spec: SLOSpec, at_ms: int) -> list[tuple[str, str]]:
    """``(side, expression)`` for every side of ``spec``'s query SLI at ``at_ms``: the query once
    per window, each answer labelled ``window="<name>"``, joined with ``or``."""
    sli = spec.sli.query
    assert sli is not None, f"{spec.name} has no query SLI"
    lengths = window_lengths(spec, at_ms)
    out = []
    for side, query in sli.queries().items():
        # errors/good: an answer with no series means none (no 5xx series yet), so "or vector(0)"
        # makes it 0 — and a failed query is then the only way a side has no row.
        zero = " or vector(0)" if side in ("errors", "good") else ""
        parts = [
            f'label_replace(({WINDOW_PLACEHOLDER_RE.sub(_promql_duration(seconds), query)}){zero}, '
            f'"window", "{name}", "", "")'
            for name, seconds in lengths.items()
        ]
        out.append((side, " or ".join(parts)))
    return out


@dataclass
class _Answers:
    """One side and window of one objective: answer times (sorted) and values."""

    ts: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values: F64 = field(default_factory=lambda: np.zeros(0, dtype=np.float64))

    def add(self, ts: I64, values: F64) -> None:
        """Merge answers (any order); a repeated time keeps the newer value."""
        if len(self.ts) and len(ts) and ts.min() > self.ts[-1] and bool(np.all(np.diff(ts) > 0)):
            self.ts = np.concatenate([self.ts, ts])
            self.values = np.concatenate([self.values, values])
            return
        all_ts = np.concatenate([self.ts, ts])
        all_values = np.concatenate([self.values, values])
        order = np.argsort(all_ts, kind="stable")
        all_ts, all_values = all_ts[order], all_values[order]
        last = np.ones(len(all_ts), dtype=np.bool_)
        last[:-1] = all_ts[1:] != all_ts[:-1]
        self.ts, self.values = all_ts[last], all_values[last]

    def at(self, at_ms: int, oldest_ms: int) -> tuple[int, float] | None:
        """The newest answer in ``[oldest_ms, at_ms]``: (time, value)."""
        i = int(np.searchsorted(self.ts, at_ms, side="right")) - 1
        if i < 0 or self.ts[i] < oldest_ms:
            return None
        return int(self.ts[i]), float(self.values[i])

    def nbytes(self) -> int:
        return self.ts.nbytes + self.values.nbytes


@dataclass
class _QueryObjective:
    basis: ResultBasis
    sli: QuerySLI
    staleness_ms: int
    answers: dict[tuple[str, str], _Answers] = field(default_factory=dict)
    """(side, window) → answers."""
    several: dict[int, str] = field(default_factory=dict)
    """Answer time → what came back when a side answered with more than one series per window."""


class QueryEvaluator:
    """Objectives of query SLIs from their recorded answers: ``ingest(frame)``, ``evaluate(at_ms)``."""

    def __init__(self, specs: Sequence[SLOSpec]) -> None:
        self._objectives: dict[str, _QueryObjective] = {}
        for spec in specs:
            assert spec.sli.query is not None, f"{spec.name} has no query SLI"
            self._objectives[spec.name] = _QueryObjective(
                ResultBasis(spec), spec.sli.query, round(staleness_seconds(spec.sli.query) * 1000)
            )

    @property
    def names(self) -> frozenset[str]:
        """The objectives' names."""
        return frozenset(self._objectives)

    def selectors(self) -> list[Selector]:
        """The recorded answers of every objective."""
        return [recorded_selector(o.basis.spec) for o in self._objectives.values()]

    def ingest(self, samples: pl.DataFrame) -> None:
        """Take the recorded answers out of ``samples`` (any other rows are ignored)."""
        if not self._objectives or samples.is_empty():
            return
        rows = samples.filter(pl.col("metric") == QUERY_SLI_METRIC)
        if rows.is_empty():
            return
        found: dict[tuple[str, str, str], list[tuple[str, I64, F64]]] = {}
        for (labels,), part in rows.group_by("labels"):
            parsed = parse_labels(str(labels))
            key = (parsed.get("slo", ""), parsed.get("side", ""), parsed.get("window", ""))
            if key[0] not in self._objectives or key[1] not in _SIDES or key[2] not in _WINDOWS:
                continue
            part = part.sort("timestamp")
            ts = part.get_column("timestamp").to_numpy().astype(np.int64)
            found.setdefault(key, []).append((str(labels), ts, part.get_column("value").to_numpy().astype(np.float64)))
        for (name, side, window), series in found.items():
            obj = self._objectives[name]
            for _, ts, values in series:
                obj.answers.setdefault((side, window), _Answers()).add(ts, values)
            if len(series) > 1:
                times, counts = np.unique(np.concatenate([ts for _, ts, _ in series]), return_counts=True)
                shown = "; ".join(sorted(labels for labels, _, _ in series)[:3])
                why = (
                    f"the {side} query answers with {len(series)} series for one window ({shown}): a query SLI "
                    "needs one series per window — aggregate with sum()"
                )
                obj.several.update(dict.fromkeys(times[counts > 1].tolist(), why))

    def evaluate(self, at_ms: int) -> list[ObjectiveResult]:
        """Every objective at ``at_ms`` (answers after it are ignored), in the order given."""
        return [self._evaluate(o, at_ms) for o in self._objectives.values()]

    def error_ratios(self, at_ms: int, name: str) -> dict[str, float | None]:
        """The error ratio per burn window and for the objective window (keyed ``"slo"``)."""
        ratios, _, _ = self._ratios(self._objectives[name], at_ms)
        return dict(zip(_WINDOWS, ratios, strict=True))

    def _ratios(self, obj: _QueryObjective, at_ms: int) -> tuple[list[float | None], float, str]:
        """Error ratio per window (``_WINDOWS`` order), the objective window's total, and why the
        objective window has no ratio when an answer is missing (empty when none is)."""
        oldest = at_ms - obj.staleness_ms
        ratios: list[float | None] = []
        total_slo = 0.0
        sides = list(obj.sli.queries())
        got: dict[str, tuple[int, float] | None] = {}
        for window in _WINDOWS:
            got = {
                side: a.at(at_ms, oldest) if (a := obj.answers.get((side, window))) is not None else None
                for side in sides
            }
            # Every side of one collection has the same time; a side missing there failed.
            ref = got["error_ratio" if obj.sli.error_ratio is not None else "total"]
            values = {k: v[1] for k, v in got.items() if v is not None and ref is not None and v[0] == ref[0]}
            ratios.append(_ratio(obj.sli, values))
            if window == OBJECTIVE_WINDOW and obj.sli.total is not None and ref is not None:
                total_slo = ref[1]
        # got: the objective window's answers
        stale = format_duration(obj.staleness_ms / 1000)
        newest = max((v[0] for v in got.values() if v is not None), default=None)
        if newest is None:
            return ratios, total_slo, f"no answer from source {obj.sli.source!r} in the last {stale} (see its health)"
        missing = [k for k, v in got.items() if v is None or v[0] != newest]
        if missing:
            return ratios, total_slo, (
                f"the {' and '.join(missing)} {'query' if len(missing) == 1 else 'queries'} did not answer at the "
                f"last collection (see source {obj.sli.source!r} health)"
            )
        return ratios, total_slo, ""

    def _evaluate(self, obj: _QueryObjective, at_ms: int) -> ObjectiveResult:
        spec = obj.basis.spec
        budget = 1.0 - obj.basis.target
        ratios, total, missing = self._ratios(obj, at_ms)
        burns = [r / budget if r is not None else None for r in ratios[:-1]]
        slo_ratio = ratios[-1]
        known = slo_ratio is not None
        ratio = slo_ratio if slo_ratio is not None else 0.0
        period = None
        if spec.calendar is not None:
            cal = spec.calendar
            period = period_bounds(at_ms, cal.period, cal.timezone, cal.week_start)
        result = objective_result(obj.basis, burns, known, 1.0 - ratio, 1.0 - ratio / budget, total, "", period, at_ms)
        if missing and not known:
            result = replace(result, reason=missing)
        several = [m for t, m in obj.several.items() if at_ms - obj.staleness_ms <= t <= at_ms]
        return result.unusable(several[0]) if several else result

    def memory_bytes(self) -> int:
        """Bytes held by the recorded answers."""
        return sum(a.nbytes() for o in self._objectives.values() for a in o.answers.values())


def _ratio(sli: QuerySLI, values: dict[str, float]) -> float | None:
    """The error ratio from one collection's answers for a window; unknown when a side is
    missing (its query failed) or not finite, or the total is 0 (no traffic)."""
    if any(not math.isfinite(v) for v in values.values()) or len(values) < len(sli.queries()):
        return None
    if sli.error_ratio is not None:
        return values["error_ratio"]
    total = values["total"]
    if total <= 0:
        return None
    if sli.errors is not None:
        return values["errors"] / total
    return 1.0 - values["good"] / total
