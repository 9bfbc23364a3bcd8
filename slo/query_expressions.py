"""The PromQL a query SLI is asked as, and the selector its answers are recorded under.

An objective's query SLI (``sli.query``) is run by its backend once per side (``errors``,
``good``, ``total`` or ``error_ratio``) per collection: the user's query with ``{{.window}}`` set
to every burn window and to the objective's window, joined with ``or`` and told apart by a
``window`` label (``label_replace``). A calendar objective's window is the time since its period
started. The answers are recorded as ``redline_query_sli{slo, side, window}`` and read back by
``slo.query_sli.QueryEvaluator``.
"""

from __future__ import annotations

from redline.kernel.labels import Matcher, Selector
from redline.kernel.units import format_duration, parse_duration
from redline.slo.calendar import calendar_bounds
from redline.slo.spec import BURN_WINDOWS, WINDOW_PLACEHOLDER_RE, SLOSpec

__all__ = [
    "OBJECTIVE_WINDOW",
    "QUERY_SLI_METRIC",
    "recorded_selector",
    "side_expression",
    "window_lengths",
    "window_queries",
]

QUERY_SLI_METRIC = "redline_query_sli"
"""The metric the answers are recorded under, labelled ``slo``, ``side`` and ``window``."""
OBJECTIVE_WINDOW = "slo"
"""The ``window`` label of the objective's own window (stable across calendar periods)."""

_BURN_S: tuple[float, ...] = tuple(parse_duration(w) for w in BURN_WINDOWS)
_MIN_PERIOD_S = 60
"""A calendar period's window is at least this long (its first minute is still a window)."""


def recorded_selector(spec: SLOSpec) -> Selector:
    """The selector of an objective's recorded answers."""
    return Selector(QUERY_SLI_METRIC, (Matcher("slo", "=", spec.name),))


def window_lengths(spec: SLOSpec, at_ms: int) -> dict[str, float]:
    """Seconds of every window a query SLI is asked over at ``at_ms``: the burn windows, then
    ``OBJECTIVE_WINDOW`` (the rolling window, or the time since the calendar period started)."""
    own = spec.window
    if spec.calendar is not None:
        cal = spec.calendar
        start_ms, _ = calendar_bounds(at_ms, cal)
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
