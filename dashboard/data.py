"""What the dashboard shows, computed without Streamlit: config, status report, burn-down.

The dashboard depends on ``slo`` and ``store`` only (never on ``agent``), so it reads the
YAML config itself, keeping just what it needs: ``agent.data_dir``, the ``slos`` list (with the
objectives of any ``slo_files``) and the ``guardrails`` list.
It only ever reads the store; nothing here appends, compacts or deletes.

Errors: a bad config raises ``ConfigError`` naming the file and the path inside it
(``slos[1].objective``); an unreadable store raises ``StoreError`` (from the store).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl
import yaml
from pydantic import TypeAdapter, ValidationError

from redline.kernel.errors import ConfigError
from redline.kernel.fields import empty_samples
from redline.kernel.labels import Selector
from redline.slo.backtest import BacktestComparison, compare
from redline.slo.calendar import period_bounds
from redline.slo.evaluation import Evaluator, history_seconds, read_start_ms
from redline.slo.groups import expand_groups, sli_selectors
from redline.slo.ranking import format_age, rank_objectives
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import GuardrailSpec, SLOSpec
from redline.slo.specfiles import SpecFile, specs_from_documents
from redline.slo.whatif import WhatIfResult, alternative_spec, whatif
from redline.store.embedded import SampleStore

__all__ = [
    "BURN_DOWN_SCHEMA",
    "SPEND_SCHEMA",
    "DashboardConfig",
    "Evaluation",
    "burn_down",
    "evaluate_report",
    "format_time_to_breach",
    "load_config",
    "objective_spec",
    "rank_objectives",
    "spend_curve",
    "what_if",
    "what_if_and_history",
]

_SPECS: Final = TypeAdapter(list[SLOSpec])
_GUARDRAILS: Final = TypeAdapter(list[GuardrailSpec])
_SPEC_FILES: Final = TypeAdapter(list[SpecFile])
_DEFAULT_DATA_DIR: Final = "./redline-data"

BURN_DOWN_SCHEMA: Final = pl.Schema(
    {"timestamp": pl.Datetime("ms", "UTC"), "budget_remaining": pl.Float64()}
)
SPEND_SCHEMA: Final = pl.Schema({"timestamp": pl.Datetime("ms", "UTC"), "spent": pl.Float64()})


@dataclass(frozen=True)
class DashboardConfig:
    """The parts of a Redline config the dashboard uses."""

    path: Path
    data_dir: Path
    slos: tuple[SLOSpec, ...]
    guardrails: tuple[GuardrailSpec, ...] = ()

    def evaluator(self, names: set[str] | None = None, series: pl.DataFrame | None = None) -> Evaluator:
        """An evaluator for every objective and guardrail (or only those named), grouped
        objectives expanded into their members found in ``series``."""
        slos = expand_groups(self.slos, series) if series is not None else list(self.slos)
        return Evaluator(
            [s for s in slos if names is None or s.name in names],
            [g for g in self.guardrails if names is None or g.name in names],
        )


def _loc_path(root: str, loc: Sequence[int | str]) -> str:
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def load_config(path: Path) -> DashboardConfig:
    """Read ``agent.data_dir`` and ``slos`` from a Redline YAML config; other sections are ignored.

    ``data_dir`` is resolved against the config file's folder (default ``./redline-data``).
    Raises ``ConfigError`` naming the file, the path inside it and what was expected.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from exc
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")

    agent = raw.get("agent") or {}
    if not isinstance(agent, dict):
        raise ConfigError(f"{path}: agent: expected a mapping, got {type(agent).__name__}")
    data_dir_raw = agent.get("data_dir", _DEFAULT_DATA_DIR)
    if not isinstance(data_dir_raw, str) or not data_dir_raw:
        raise ConfigError(f"{path}: agent.data_dir: expected a folder path, got {data_dir_raw!r}")

    slos = _validated(_SPECS, raw.get("slos") or [], "slos", path)
    for i, entry in enumerate(_validated(_SPEC_FILES, raw.get("slo_files") or [], "slo_files", path)):
        spec_path = entry.path if entry.path.is_absolute() else path.resolve().parent / entry.path
        try:
            documents = [d for d in yaml.safe_load_all(spec_path.read_text(encoding="utf-8")) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: slo_files[{i}]: cannot read {spec_path}: {exc}") from exc
        slos += specs_from_documents(entry.format, documents, str(spec_path), entry.backend)[0]
    guardrails = _validated(_GUARDRAILS, raw.get("guardrails") or [], "guardrails", path)
    seen: set[str] = set()
    for section, items in (("slos", slos), ("guardrails", guardrails)):
        for i, item in enumerate(items):
            if item.name in seen:
                raise ConfigError(f"{path}: {section}[{i}].name: duplicate objective name {item.name!r}")
            seen.add(item.name)

    data_dir = Path(data_dir_raw).expanduser()
    if not data_dir.is_absolute():
        data_dir = path.resolve().parent / data_dir
    return DashboardConfig(path=path, data_dir=data_dir, slos=tuple(slos), guardrails=tuple(guardrails))


def _validated(adapter: TypeAdapter[list[Any]], value: object, section: str, path: Path) -> list[Any]:
    """``value`` validated as a list by ``adapter``; ``ConfigError`` naming each problem's path."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_loc_path(section, err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from exc


@dataclass(frozen=True)
class Evaluation:
    """A status report and the store's complaints about files it had to skip while reading."""

    report: StatusReport
    store_problems: tuple[str, ...] = ()
    newest_sample_ms: int | None = None
    """The newest stored sample (any series), None for an empty or missing store."""


def _series(config: DashboardConfig) -> pl.DataFrame | None:
    """The stored series, when an objective is grouped (its members are found there)."""
    if not any(s.group_by for s in config.slos) or not config.data_dir.is_dir():
        return None
    return SampleStore(config.data_dir).series()


def _read(
    config: DashboardConfig, selectors: Sequence[Selector], start_ms: int, end_ms: int, *, newest: bool = False
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


def evaluate_report(config: DashboardConfig, at_ms: int) -> Evaluation:
    """Evaluate every objective of ``config`` at ``at_ms`` from the stored samples."""
    evaluator = config.evaluator(series=_series(config))
    start_ms = read_start_ms(evaluator.history_seconds, at_ms)
    samples, problems, newest_ms = _read(config, evaluator.selectors(), start_ms, at_ms, newest=True)
    evaluator.ingest(samples)
    return Evaluation(evaluator.evaluate(at_ms), problems, newest_ms)


def _results_over(
    config: DashboardConfig, name: str, at_ms: int, span_ms: int, points: int
) -> list[tuple[int, ObjectiveResult]]:
    """Objective (or guardrail) ``name`` evaluated at ``points`` regular instants over the last
    ``span_ms`` up to ``at_ms`` — from its first stored sample when that is later. Empty when
    nothing is stored; ``KeyError`` for an unknown name."""
    evaluator = config.evaluator({name}, series=_series(config))
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


def burn_down(config: DashboardConfig, name: str, at_ms: int, *, points: int = 60) -> pl.DataFrame:
    """Budget remaining of objective ``name`` at ``points`` regular instants up to ``at_ms``.

    The instants span the objective's window, or the time since its first stored sample when
    that is shorter. Returns ``BURN_DOWN_SCHEMA`` rows (empty when there is no data);
    ``budget_remaining`` is null where the objective had no events. Raises ``KeyError`` for an
    unknown name.
    """
    # An objective's own window (a grouped objective's member's too); a guardrail's longest span.
    try:
        window_s = objective_spec(config, name).window
    except KeyError:
        window_s = max((g.history_seconds for g in config.guardrails if g.name == name), default=0.0)
    found = _results_over(config, name, at_ms, int(window_s * 1000), points)
    budgets = [
        r.budget_remaining if r.budget_remaining is not None and math.isfinite(r.budget_remaining)
        and r.status != "no_data" else None
        for _, r in found
    ]
    return pl.DataFrame(
        {"timestamp": [t for t, _ in found], "budget_remaining": budgets},
        schema={"timestamp": pl.Int64, "budget_remaining": pl.Float64},
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))


def spend_curve(config: DashboardConfig, name: str, at_ms: int, *, points: int = 60) -> pl.DataFrame:
    """A budget guardrail's spend so far in its current period at ``points`` instants up to
    ``at_ms`` (``SPEND_SCHEMA``: time, spent); empty without data. ``KeyError`` for a name that
    is not a budget guardrail."""
    spec = next((g for g in config.guardrails if g.name == name and g.budget is not None), None)
    if spec is None or spec.budget is None:
        raise KeyError(name)
    budget = spec.budget
    start_ms, _ = period_bounds(at_ms, budget.period, budget.timezone, budget.week_start)
    found = _results_over(config, name, at_ms, at_ms - start_ms, points)
    spent = [(r.details or {}).get("spent") for _, r in found]
    if not any(isinstance(v, int | float) for v in spent):
        return pl.DataFrame(schema=SPEND_SCHEMA)  # nothing spent in this period yet
    return pl.DataFrame(
        {"timestamp": [t for t, _ in found], "spent": [v if isinstance(v, int | float) else None for v in spent]},
        schema={"timestamp": pl.Int64, "spent": pl.Float64},
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))


def objective_spec(config: DashboardConfig, name: str) -> SLOSpec:
    """The objective ``name`` (a grouped objective's member included); ``KeyError`` when there is none."""
    found = next((s for s in config.slos if s.name == name), None)
    series = _series(config) if found is None else None
    if series is not None:
        found = next((s for s in expand_groups(config.slos, series) if s.name == name), None)
    if found is None:
        raise KeyError(name)
    return found


def _objective_samples(
    config: DashboardConfig, name: str, start_ms: int, end_ms: int
) -> tuple[SLOSpec, pl.DataFrame]:
    """Objective ``name`` and the stored samples it reads to be evaluated from ``start_ms`` to
    ``end_ms``; ``KeyError`` for an unknown objective."""
    spec = objective_spec(config, name)
    samples, _, _ = _read(config, sli_selectors(spec), read_start_ms(history_seconds([spec]), start_ms), end_ms)
    return spec, samples


def what_if(
    config: DashboardConfig, name: str, at_ms: int, *, threshold_s: float | None = None, objective: float | None = None
) -> WhatIfResult:
    """``slo.whatif.whatif`` for objective ``name`` over its stored history up to ``at_ms``.

    Raises ``KeyError`` for an unknown objective and ``ValueError`` for an alternative the
    objective cannot take (a threshold on a kind without one, past the largest bucket bound)."""
    spec, samples = _objective_samples(config, name, at_ms, at_ms)
    return whatif(spec, samples, at_ms, threshold_s=threshold_s, objective=objective)


def what_if_and_history(
    config: DashboardConfig, name: str, at_ms: int, *, threshold_s: float | None = None,
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
