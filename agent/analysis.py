"""``redline whatif`` and ``redline backtest``: the engine's what-if and backtest over stored history.

The store is only read. A bad argument (an unknown objective, a threshold on a kind that has
none, a threshold past the largest bucket bound) is a ``ConfigError`` naming it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml
from pydantic import TypeAdapter, ValidationError

from redline.config import LoadedConfig
from redline.kernel.errors import ConfigError
from redline.kernel.labels import Selector
from redline.slo.backtest import BacktestComparison, BacktestReport, backtest, compare
from redline.slo.evaluation import history_seconds, read_start_ms
from redline.slo.groups import sli_selectors
from redline.slo.ranking import BurnRateCondition, format_age
from redline.slo.results import ObjectiveResult
from redline.slo.spec import SLOSpec
from redline.slo.whatif import WhatIfResult, whatif
from redline.store.embedded import SampleStore

__all__ = ["load_policy", "read_samples", "render_whatif_text", "run_backtest", "run_whatif"]


def read_samples(loaded: LoadedConfig, selectors: list[Selector], start_ms: int, end_ms: int) -> pl.DataFrame:
    """The stored samples of ``selectors`` from ``start_ms`` to ``end_ms`` (the backtest and what-if read them)."""
    store = SampleStore(loaded.data_dir, retention_seconds=loaded.config.agent.retention)
    return store.read(selectors, start_ms, end_ms)


def _spec(loaded: LoadedConfig, name: str) -> SLOSpec:
    specs = {s.name: s for s in loaded.config.slos}
    if name not in specs:
        raise ConfigError(f"{loaded.path}: no objective named {name!r} (objectives: {', '.join(sorted(specs))})")
    return specs[name]


def run_whatif(
    loaded: LoadedConfig, name: str, at_s: float, *, threshold_s: float | None, objective: float | None
) -> WhatIfResult:
    """The objective ``name`` as configured and under the alternative threshold and/or objective."""
    spec = _spec(loaded, name)
    at_ms = int(at_s * 1000)
    selectors = sli_selectors(spec)
    samples = read_samples(loaded, selectors, read_start_ms(history_seconds([spec]), at_ms), at_ms)
    try:
        return whatif(spec, samples, at_ms, threshold_s=threshold_s, objective=objective)
    except ValueError as exc:
        raise ConfigError(f"whatif {name}: {exc}") from exc


def _line(label: str, o: ObjectiveResult) -> str:
    budget = "-" if o.budget_remaining is None else f"{o.budget_remaining * 100:.1f}%"
    ttb = "-" if o.time_to_breach_seconds is None else format_age(o.time_to_breach_seconds)
    return f"  {label:<12} {o.target_text():>8} {o.value_text():>10} {budget:>9} {ttb:>10}  {o.status}"


def render_whatif_text(result: WhatIfResult) -> str:
    """Current against alternative, then the compliance curve over every bucket bound."""
    lines = [
        f"what if: {result.current.name} ({result.current.kind}, {result.current.window})",
        f"  {'':<12} {'target':>8} {'value':>10} {'budget':>9} {'breach in':>10}  status",
        _line("current", result.current),
        _line("alternative", result.alternative),
    ]
    if result.approximate:
        lines.append("  (approximate: the threshold lies between bucket bounds and is interpolated inside the bucket)")
    if result.curve:
        lines += ["", "  compliance by threshold over the window:"]
        for point in result.curve:
            sli = "-" if point.sli is None else f"{point.sli * 100:.3f}%"
            lines.append(f"    {point.threshold_s * 1000:>10g} ms  {sli:>9}")
    return "\n".join(lines)


def load_policy(path: Path) -> tuple[BurnRateCondition, ...]:
    """Alert conditions from YAML: a list of ``{severity, long_window, short_window, budget_share}``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigError(f"{path}: cannot read policy: {reason}: check the path given to --policy") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot read policy: {exc}") from exc
    try:
        return tuple(TypeAdapter(list[BurnRateCondition]).validate_python(raw))
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"{path}: not a list of alert conditions "
                          f"(severity, long_window, short_window, budget_share): {exc}") from exc


def run_backtest(
    loaded: LoadedConfig,
    *,
    start_s: float,
    end_s: float,
    step_s: float,
    policy: tuple[BurnRateCondition, ...] | None = None,
    compare_objective: float | None = None,
    only: str | None = None,
    hysteresis: bool = True,
) -> BacktestReport | BacktestComparison:
    """Replay the alert policy over stored history; with ``compare_objective``, side by side with
    the same objectives relaxed (or tightened) to that percentage. ``policy`` ``None`` replays each
    objective's own tiers (those of its period, or its ``alerting.tiers``); ``hysteresis`` ``False``:
    without ``for:``, resolve delay and inhibition."""
    specs = [_spec(loaded, only)] if only else list(loaded.config.slos)
    start_ms, end_ms = int(start_s * 1000), int(end_s * 1000)
    read_from = read_start_ms(history_seconds(specs), start_ms)
    samples = read_samples(loaded, [sel for s in specs for sel in sli_selectors(s)], read_from, end_ms)
    step_ms = int(step_s * 1000)
    try:
        if compare_objective is None:
            return backtest(specs, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms, policy=policy,
                            hysteresis=hysteresis)
        relaxed = [s.model_copy(update={"objective": compare_objective}) for s in specs]
        return compare(
            specs, relaxed, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms, policy=policy,
            labels=("current", f"objective {compare_objective:g}"), hysteresis=hysteresis,
        )
    except ValueError as exc:
        raise ConfigError(f"backtest: {exc}") from exc
