"""What the dashboard shows, computed without Streamlit: status report, burn-down, spend, what-if.

The dashboard depends on ``slo``, ``store`` and ``config`` (never on ``agent``): it reads the
config the agent runs on, loaded and validated by ``redline.config.load_config`` (a bad config
is a ``ConfigError`` naming the file, the line and the path inside it), and uses its data
directory, objectives and guardrails.
It only ever reads the store; nothing here appends, compacts or deletes; an unreadable store
raises ``StoreError`` (from the store).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from redline.checkpoints.resume import resume
from redline.config import LoadedConfig
from redline.kernel.fields import empty_samples
from redline.kernel.labels import Selector
from redline.slo.backtest import BacktestComparison, compare
from redline.slo.calendar import period_bounds
from redline.slo.evaluation import Evaluator, history_seconds, read_start_ms
from redline.slo.groups import expand_groups, sli_selectors
from redline.slo.ranking import format_age, rank_objectives
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import SLOSpec
from redline.slo.whatif import WhatIfResult, alternative_spec, whatif
from redline.store.embedded import SampleStore

__all__ = [
    "BURN_DOWN_SCHEMA",
    "OBJECTIVE_HISTORY_SCHEMA",
    "SPEND_SCHEMA",
    "Evaluation",
    "burn_down",
    "evaluate_report",
    "format_time_to_breach",
    "objective_history",
    "objective_spec",
    "rank_objectives",
    "spend_curve",
    "what_if",
    "what_if_and_history",
]

BURN_DOWN_SCHEMA: Final = pl.Schema(
    {"timestamp": pl.Datetime("ms", "UTC"), "budget_remaining": pl.Float64()}
)
SPEND_SCHEMA: Final = pl.Schema({"timestamp": pl.Datetime("ms", "UTC"), "spend": pl.Float64()})
"""A budget's spend to date in its period over time (its ``status --json`` key is ``spent``)."""


def _evaluator(config: LoadedConfig, names: set[str] | None = None, series: pl.DataFrame | None = None) -> Evaluator:
    """An evaluator for every objective and guardrail of ``config`` (or only those named),
    grouped objectives expanded into their members found in ``series``."""
    slos = expand_groups(config.config.slos, series) if series is not None else list(config.config.slos)
    return Evaluator(
        [s for s in slos if names is None or s.name in names],
        [g for g in config.config.guardrails if names is None or g.name in names],
    )


@dataclass(frozen=True)
class Evaluation:
    """A status report and the store's complaints about files it had to skip while reading."""

    report: StatusReport
    store_problems: tuple[str, ...] = ()
    newest_sample_ms: int | None = None
    """The newest stored sample (any series), None for an empty or missing store."""


def _series(config: LoadedConfig) -> pl.DataFrame | None:
    """The stored series, when an objective is grouped (its members are found there)."""
    if not any(s.group_by for s in config.config.slos) or not config.data_dir.is_dir():
        return None
    return SampleStore(config.data_dir).series()


def _read(
    config: LoadedConfig, selectors: Sequence[Selector], start_ms: int, end_ms: int, *, newest: bool = False
) -> tuple[pl.DataFrame, tuple[str, ...], int | None]:
    """The samples ``selectors`` select in ``[start_ms, end_ms]``, the unreadable files skipped, and
    (when ``newest``) the newest stored sample's time.

    A data folder that does not exist yet (agent not started) reads as no samples: opening the
    store there could create it, and the dashboard never writes.
    """
    if not config.data_dir.is_dir():
        return empty_samples(), (), None
    store = SampleStore(config.data_dir)
    samples = store.read(list(selectors), start_ms, end_ms)
    newest_ms = store.newest_timestamp_ms() if newest else None
    return samples, tuple(store.problems), newest_ms


def evaluate_report(config: LoadedConfig, at_ms: int) -> Evaluation:
    """Evaluate every objective of ``config`` at ``at_ms`` from the stored samples: the agent's
    checkpoint plus the samples since when it fits, else all of them (``redline.checkpoints``)."""
    if not config.data_dir.is_dir():  # not started yet: opening the store there could create it
        return Evaluation(_evaluator(config).evaluate(at_ms))
    series = _series(config)
    slos = expand_groups(config.config.slos, series) if series is not None else list(config.config.slos)
    store = SampleStore(config.data_dir)
    evaluator = resume(store, slos, config.config.guardrails, at_ms).evaluator
    return Evaluation(evaluator.evaluate(at_ms), tuple(store.problems), store.newest_timestamp_ms())


def _results_over(
    config: LoadedConfig, name: str, at_ms: int, span_ms: int, points: int
) -> list[tuple[int, ObjectiveResult]]:
    """Objective (or guardrail) ``name`` evaluated at ``points`` regular instants over the last
    ``span_ms`` up to ``at_ms`` — from its first stored sample when that is later. Empty when
    nothing is stored; ``KeyError`` for an unknown name."""
    evaluator = _evaluator(config, {name}, series=_series(config))
    if name not in evaluator.names:
        raise KeyError(name)
    read_from = read_start_ms(evaluator.history_seconds + span_ms / 1000, at_ms)
    samples, _, _ = _read(config, evaluator.selectors(), read_from, at_ms)
    if samples.is_empty():
        return []
    first_ms = samples.get_column("timestamp").min()
    assert isinstance(first_ms, int)
    start_ms = max(at_ms - span_ms, first_ms)
    evaluator.ingest(samples)
    steps = max(points - 1, 1)
    instants = sorted({start_ms + (at_ms - start_ms) * i // steps for i in range(steps + 1)})
    return [(t, evaluator.evaluate(t).objectives[0]) for t in instants]


OBJECTIVE_HISTORY_SCHEMA: Final = pl.Schema(
    {"timestamp": pl.Datetime("ms", "UTC"), "sli": pl.Float64(), "budget_remaining": pl.Float64()}
)
"""An objective's SLI over its window and budget remaining, at regular instants."""


def objective_history(config: LoadedConfig, name: str, at_ms: int, *, points: int = 60) -> pl.DataFrame:
    """SLI and budget remaining of objective ``name`` at ``points`` regular instants up to ``at_ms``.

    The instants span the objective's window, or the time since its first stored sample when
    that is shorter. Returns ``OBJECTIVE_HISTORY_SCHEMA`` rows (empty when there is no data); a
    value is null where the objective had no events. Raises ``KeyError`` for an unknown name.
    """
    # An objective's own window (a grouped objective's member's too); a guardrail's longest span.
    try:
        window_s = objective_spec(config, name).window
    except KeyError:
        window_s = max((g.history_seconds for g in config.config.guardrails if g.name == name), default=0.0)
    found = _results_over(config, name, at_ms, int(window_s * 1000), points)

    def shown(r: ObjectiveResult, value: float | None) -> float | None:
        return value if value is not None and math.isfinite(value) and r.status != "no_data" else None

    return pl.DataFrame(
        {
            "timestamp": [t for t, _ in found],
            "sli": [shown(r, r.sli) for _, r in found],
            "budget_remaining": [shown(r, r.budget_remaining) for _, r in found],
        },
        schema={"timestamp": pl.Int64, "sli": pl.Float64, "budget_remaining": pl.Float64},
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))


def burn_down(config: LoadedConfig, name: str, at_ms: int, *, points: int = 60) -> pl.DataFrame:
    """Budget remaining of objective ``name`` over its window (``BURN_DOWN_SCHEMA`` rows): the
    budget column of ``objective_history``."""
    return objective_history(config, name, at_ms, points=points).select("timestamp", "budget_remaining")


def spend_curve(config: LoadedConfig, name: str, at_ms: int, *, points: int = 60) -> pl.DataFrame:
    """A budget guardrail's spend so far in its current period at ``points`` instants up to
    ``at_ms`` (``SPEND_SCHEMA``: time, spend); empty without data. ``KeyError`` for a name that
    is not a budget guardrail."""
    spec = next((g for g in config.config.guardrails if g.name == name and g.budget is not None), None)
    if spec is None or spec.budget is None:
        raise KeyError(name)
    budget = spec.budget
    start_ms, _ = period_bounds(at_ms, budget.period, budget.timezone, budget.week_start)
    found = _results_over(config, name, at_ms, at_ms - start_ms, points)
    spend = [(r.details or {}).get("spent") for _, r in found]
    if not any(isinstance(v, int | float) for v in spend):
        return pl.DataFrame(schema=SPEND_SCHEMA)  # nothing spent in this period yet
    return pl.DataFrame(
        {"timestamp": [t for t, _ in found], "spend": [v if isinstance(v, int | float) else None for v in spend]},
        schema={"timestamp": pl.Int64, "spend": pl.Float64},
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))


def objective_spec(config: LoadedConfig, name: str) -> SLOSpec:
    """The objective ``name`` (a grouped objective's member included); ``KeyError`` when there is none."""
    found = next((s for s in config.config.slos if s.name == name), None)
    series = _series(config) if found is None else None
    if series is not None:
        found = next((s for s in expand_groups(config.config.slos, series) if s.name == name), None)
    if found is None:
        raise KeyError(name)
    return found


def _objective_samples(
    config: LoadedConfig, name: str, start_ms: int, end_ms: int
) -> tuple[SLOSpec, pl.DataFrame]:
    """Objective ``name`` and the stored samples it reads to be evaluated from ``start_ms`` to
    ``end_ms``; ``KeyError`` for an unknown objective."""
    spec = objective_spec(config, name)
    samples, _, _ = _read(config, sli_selectors(spec), read_start_ms(history_seconds([spec]), start_ms), end_ms)
    return spec, samples


def what_if(
    config: LoadedConfig, name: str, at_ms: int, *, threshold_s: float | None = None, objective: float | None = None
) -> WhatIfResult:
    """``slo.whatif.whatif`` for objective ``name`` over its stored history up to ``at_ms``.

    Raises ``KeyError`` for an unknown objective and ``ValueError`` for an alternative the
    objective cannot take (a threshold on a kind without one, past the largest bucket bound)."""
    spec, samples = _objective_samples(config, name, at_ms, at_ms)
    return whatif(spec, samples, at_ms, threshold_s=threshold_s, objective=objective)


def what_if_and_history(
    config: LoadedConfig, name: str, at_ms: int, *, threshold_s: float | None = None,
    objective: float | None = None, days: float = 30.0, step_s: float = 300.0,
) -> tuple[WhatIfResult, BacktestComparison]:
    """``what_if``, and would the last ``days`` (up to ``at_ms``) have paged: the alert policy
    replayed every ``step_s`` for the objective as configured and as altered — from one read of
    the store. Raises as ``what_if`` does."""
    start_ms = at_ms - int(days * 86400 * 1000)
    spec, samples = _objective_samples(config, name, start_ms, at_ms)
    result = whatif(spec, samples, at_ms, threshold_s=threshold_s, objective=objective)
    history = compare(
        [spec], [alternative_spec(spec, threshold_s=threshold_s, objective=objective)], samples,
        start_ms=start_ms, end_ms=at_ms, step_ms=int(step_s * 1000), labels=("current", "alternative"),
    )
    return result, history


def format_time_to_breach(seconds: float | None) -> str:
    """Time to breach as an on-call engineer reads it (``1d 4h``, ``35m``); ``now`` when breached.

    ``None`` (not burning) reads as ``not burning``; the units are the engine's (``format_age``).
    """
    if seconds is None or not math.isfinite(seconds):
        return "not burning"
    if seconds <= 0:
        return "now"
    return format_age(seconds)
