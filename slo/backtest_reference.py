"""The backtest as it was computed before it was made fast: the measure its fast path must equal.

``reference_backtest`` and ``reference_compare`` replay every time-slice objective (freshness,
throughput, GPU band) through the live evaluator, one ``ingest`` and ``evaluate`` per step, and
each tier's ``for:`` and resolve delay through ``slo.hysteresis.step`` one step at a time; ratio
and latency objectives are the same arrays in both. Tests assert that ``slo.backtest`` gives the
same pages, tickets and episodes; ``bench.backtest`` times both. About 3 ms a step: minutes for a
month of minutes, so not for use outside those.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from redline.slo.backtest import BacktestComparison, BacktestReport, Condition, run_backtest, run_compare
from redline.slo.spec import SLOSpec

__all__ = ["reference_backtest", "reference_compare"]


def reference_backtest(
    specs: Sequence[SLOSpec], samples: pl.DataFrame, *, start_ms: int, end_ms: int, step_ms: int = 60_000,
    policy: Sequence[Condition] | None = None, hysteresis: bool = True,
) -> BacktestReport:
    """``slo.backtest.backtest``, the slow way."""
    return run_backtest(specs, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms, policy=policy,
                        shared=None, hysteresis=hysteresis, reference=True)


def reference_compare(
    specs_a: Sequence[SLOSpec], specs_b: Sequence[SLOSpec], samples: pl.DataFrame, *, start_ms: int, end_ms: int,
    step_ms: int = 60_000, policy: Sequence[Condition] | None = None, policy_b: Sequence[Condition] | None = None,
    labels: tuple[str, str] = ("current", "alternative"), hysteresis: bool = True,
) -> BacktestComparison:
    """``slo.backtest.compare``, the slow way."""
    return run_compare(specs_a, specs_b, samples, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms, policy=policy,
                       policy_b=policy_b, labels=labels, hysteresis=hysteresis, reference=True)
