"""Guardrail benchmark: 1,000 cost guardrails over 30 days of 1-minute spend data.

Run: ``.venv/bin/python -m bench.guardrails [teams]`` (default 50 teams).

Each team has 4 spend series (one per model, ``redline_spend_usd_total{team,model}``), each model
an inference counter per team (``vllm:request_success_total{team,model}``): 400 series. Per team
20 guardrails: 12 budgets (month / week / quarter, UTC / Europe/Paris / Asia/Kolkata, credit or
reset, with and without showback by model, on the team's spend and on each model's) and 8 cost
per 1k (per model and team-wide, 1d to 30d windows, showback by model). Limits vary by team so
that results are a mix of ok, warning and breached (``_LIMIT_SCALE``). The frame is sorted by
metric, labels, timestamp, as the store returns it. Measured: cold start (``ingest`` of the 30-day
frame), per tick ingest of one new minute and ``evaluate`` of all guardrails (30 ticks, median
and max), the evaluator's state bytes, the peak RSS and the bytes allocated at peak during a cold
start (tracemalloc). Beside it:

- the **previous evaluator** (commit ``PREVIOUS_REV``: one ring length for every side, results
  built guardrail by guardrail), loaded from git, on the same frames; its results must be
  identical at every evaluation;
- the **naive baseline**: per guardrail a polars filter of the raw rows and a group_by per series
  (value at the end minus value at the start), timed on 20 guardrails and scaled to all.
"""

from __future__ import annotations

import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench.legacy import load_slo_modules
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.calendar import period_bounds
from redline.slo.guardrails import GuardrailEvaluator
from redline.slo.results import ObjectiveResult
from redline.slo.spec import GuardrailSpec

MIN = 60_000
DAYS = 30
MODELS = ("llama", "mistral", "qwen", "gemma")
SPEND = "redline_spend_usd_total"
INFER = "vllm:request_success_total"
START = int(datetime(2026, 10, 20, tzinfo=UTC).timestamp() * 1000)
PREVIOUS_REV = "a441142d9d810f947fad1ab9e96cf05aac1fdeed"
"""The guardrails before the rings were sized per template and evaluate was vectorised."""


_LIMIT_SCALE = (1.0, 0.08, 0.05)
"""Limits by team (t mod 3): roomy, tight enough that forecasts cross, already spent; the third
kind also has a cost-per-1k maximum below the data's $0.33."""


def _specs(teams: int) -> list[GuardrailSpec]:
    out: list[dict[str, object]] = []
    for t in range(teams):
        team = f'{SPEND}{{team="t{t}"}}'
        scale = _LIMIT_SCALE[t % len(_LIMIT_SCALE)]
        per1k_max = 0.3 if t % len(_LIMIT_SCALE) == 2 else 0.4
        periods = [("month", "UTC"), ("week", "Europe/Paris"), ("quarter", "Asia/Kolkata"), ("month", "Europe/Paris")]
        for i, (period, tz) in enumerate(periods):
            out.append({"name": f"t{t}-budget-{i}", "budget": {
                "spend": team, "limit": (20_000 + 5_000 * i) * scale, "period": period, "timezone": tz,
                "decreases": "credit" if i % 2 else "reset", "showback_by": ["model"] if i < 2 else [],
            }})
        for i, m in enumerate(MODELS):
            sel = f'{SPEND}{{team="t{t}",model="{m}"}}'
            out.append({"name": f"t{t}-{m}-month", "budget": {"spend": sel, "limit": (6_000.0 + i) * scale}})
            out.append({"name": f"t{t}-{m}-week", "budget": {"spend": sel, "limit": 1_500.0 * scale, "period": "week"}})
            out.append({"name": f"t{t}-{m}-per1k", "window": "1d", "cost_per_1k": {
                "spend": sel, "inferences": f'{INFER}{{team="t{t}",model="{m}"}}', "max": per1k_max,
            }})
        for w in ("1d", "30d", "7d", "3d"):
            out.append({"name": f"t{t}-per1k-{w}", "window": w, "cost_per_1k": {
                "spend": team, "inferences": f'{INFER}{{team="t{t}"}}', "max": per1k_max + 0.05,
                "showback_by": ["model"],
            }})
    return [GuardrailSpec.model_validate(s) for s in out]


def _frames(
    teams: int, minutes: int, tick_minutes: int, rng: np.random.Generator
) -> tuple[pl.DataFrame, list[pl.DataFrame], int]:
    """The history (sorted by metric, labels, timestamp, as the store returns it) and one frame
    per tick minute after it, built directly (no filtered copy of one large frame)."""
    total = minutes + tick_minutes
    ts = START + np.arange(total, dtype=np.int64) * MIN
    metrics: list[str] = []
    labels: list[str] = []
    values: list[np.ndarray] = []
    for metric, scale in ((SPEND, 0.01), (INFER, 30.0)):
        for t in range(teams):
            for m in MODELS:
                step = rng.gamma(4.0, scale / 4.0, total)
                step[0] = 0.0
                metrics.append(metric)
                labels.append(f'model="{m}",team="t{t}"')
                values.append(np.cumsum(step))
    n = len(metrics)
    order = sorted(range(n), key=lambda i: (metrics[i], labels[i]))
    rows = np.repeat(np.arange(n), minutes)
    history = pl.DataFrame({
        "metric": pl.Series([metrics[i] for i in order]).gather(rows),
        "labels": pl.Series([labels[i] for i in order]).gather(rows),
        "timestamp": np.tile(ts[:minutes], n),
        "value": np.concatenate([values[i][:minutes] for i in order]),
    }, schema=SAMPLE_SCHEMA)
    ticks = [
        pl.DataFrame({
            "metric": metrics, "labels": labels, "timestamp": np.full(n, ts[k]),
            "value": np.asarray([v[k] for v in values]),
        }, schema=SAMPLE_SCHEMA)
        for k in range(minutes, total)
    ]
    return history, ticks, n


def _naive(frame: pl.DataFrame, spec: GuardrailSpec, at_ms: int) -> float:
    """The same figure the slow way: filter the raw rows, value(at) − value(start) per series, summed."""
    if spec.budget is not None:
        start = period_bounds(at_ms, spec.budget.period, spec.budget.timezone, spec.budget.week_start)[0]
        sel = spec.budget.spend
    else:
        assert spec.cost_per_1k is not None
        start, sel = at_ms - round(spec.window * 1000), spec.cost_per_1k.spend
    rows = sel.filter(frame).filter(pl.col("timestamp") <= at_ms)
    per = rows.group_by("labels").agg(
        pl.col("value").filter(pl.col("timestamp") <= start).last().fill_null(pl.col("value").first()).alias("a"),
        pl.col("value").last().alias("b"),
    )
    total = float((per.get_column("b") - per.get_column("a")).sum())
    if spec.cost_per_1k is not None:
        inf = spec.cost_per_1k.inferences.filter(frame).filter(pl.col("timestamp").is_between(start, at_ms))
        n = inf.group_by("labels").agg((pl.col("value").last() - pl.col("value").first()).alias("d"))
        total /= float(n.get_column("d").sum()) / 1000.0
    return total


@dataclass
class Run:
    """One evaluator's figures over the benchmark."""

    cold_s: float
    first_eval_ms: float
    ingest_ms: list[float]
    eval_ms: list[float]
    state_bytes: int
    results: list[list[ObjectiveResult]]  # the first evaluate, then one per tick
    full_gc: list[bool]  # per tick: whether a full (generation 2) garbage collection ran in it


def _measure(make: Callable[[], Any], history: pl.DataFrame, ticks: list[pl.DataFrame], at0: int) -> Run:
    ev = make()
    gc.collect()
    t0 = time.perf_counter()
    ev.ingest(history)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = [ev.evaluate(at0)]
    first_eval = time.perf_counter() - t0
    ingest_ms: list[float] = []
    eval_ms: list[float] = []
    full_gc: list[bool] = []
    seen: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(1)

    gc.callbacks.append(on_gc)
    try:
        for part in ticks:
            at = int(part.get_column("timestamp")[0])
            seen.clear()
            t0 = time.perf_counter()
            ev.ingest(part)
            t1 = time.perf_counter()
            results.append(ev.evaluate(at))
            t2 = time.perf_counter()
            ingest_ms.append((t1 - t0) * 1000)
            eval_ms.append((t2 - t1) * 1000)
            full_gc.append(bool(seen))
    finally:
        gc.callbacks.remove(on_gc)
    return Run(cold, first_eval * 1000, ingest_ms, eval_ms, int(ev.memory_bytes()), results, full_gc)


def _load_previous(tmp: Path) -> tuple[Callable[[list[GuardrailSpec]], Any] | None, str]:
    """``GuardrailEvaluator`` of commit ``PREVIOUS_REV`` (git show into a temporary package, with
    the engine modules it builds on; the rest of ``slo`` from the working tree), or None and why not."""
    names = ("guardrails", "guardrail_store", "cumulative", "counters", "timeslice", "calendar")
    module, source = load_slo_modules(tmp, PREVIOUS_REV, "previous_guardrails", names, "guardrails")
    return (None if module is None else module.GuardrailEvaluator), source


def _with_spend(r: ObjectiveResult) -> ObjectiveResult:
    """A previous evaluator's result as this one gives it: a budget's ``details`` have ``spend``
    beside ``spent`` (the same figure) since issue 9."""
    if r.kind != "budget" or r.details is None:
        return r
    return replace(r, details={**r.details, "spend": r.details["spent"]})


def _row(run: Run, name: str) -> str:
    return (
        f"  {name:<34}{run.cold_s:>8.2f} s{statistics.median(run.eval_ms):>9.1f} /{max(run.eval_ms):>6.1f} ms"
        f"{statistics.median(run.ingest_ms):>10.1f} ms{run.state_bytes / 1e6:>9,.0f} MB"
    )


def main(argv: list[str]) -> int:
    teams = int(argv[0]) if argv else 50
    rng = np.random.default_rng(7)
    minutes = DAYS * 1440
    specs = _specs(teams)
    t0 = time.perf_counter()
    history, ticks, n_series = _frames(teams, minutes, 30, rng)
    input_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(specs)} guardrails, {n_series} series, {history.height:,} history rows "
          f"(built in {time.perf_counter() - t0:.1f} s, peak RSS with the input {input_mb:,.0f} MB)")
    at0 = START + (minutes - 1) * MIN

    run = _measure(lambda: GuardrailEvaluator(specs), history, ticks, at0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gc.collect()
    tracemalloc.start()
    try:
        GuardrailEvaluator(specs).ingest(history)
        traced_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    last = run.results[-1]
    statuses = {s: sum(r.status == s for r in last) for s in ("ok", "warning", "breached", "no_data")}

    with tempfile.TemporaryDirectory() as tmp:
        make_previous, previous_from = _load_previous(Path(tmp))
        before = None
        if make_previous is not None:
            before = _measure(lambda: make_previous(specs), history, ticks, at0)

    sample = specs[:: max(1, len(specs) // 20)][:20]
    by_name = {r.name: r for r in run.results[0]}
    t0 = time.perf_counter()
    worst = 0.0
    for spec in sample:
        naive = _naive(history, spec, at0)
        r = by_name[spec.name]
        mine = r.value if spec.cost_per_1k is not None else (r.details or {}).get("spent")
        assert mine is not None
        worst = max(worst, abs(mine - naive) / max(abs(naive), 1e-12))
    per = (time.perf_counter() - t0) / len(sample)

    print(f"  {'':<34}{'cold start':>10}{'tick evaluate':>20}{'ingest 1 min':>13}{'state':>12}")
    print(_row(run, "engine"))
    if before is not None:
        print(_row(before, f"previous ({previous_from})"))
    else:
        print(f"  previous: not measured: {previous_from}")
    print(f"  {'naive filter + group_by (scaled)':<34}{'':>10}{per * len(specs):>13.1f} s/tick   "
          f"(timed on {len(sample)} guardrails: {per * 1000:.0f} ms each, × {len(specs):,})")
    print(f"  {'targets':<34}{'< 2 s':>10}{'< 20 ms':>20}{'':>13}{'< 400 MB':>12}")
    print(f"\ntick = ingest one minute ({ticks[0].height} rows), then evaluate all {len(specs):,} guardrails: "
          f"median / max over {len(ticks)} ticks; first evaluate after the cold start {run.first_eval_ms:.1f} ms")
    print(f"state = memory_bytes(); peak RSS {rss_mb:,.0f} MB (the input frames alone: {input_mb:,.0f} MB); "
          f"allocated at peak during the cold start (tracemalloc): {traced_mb:,.0f} MB")
    print(f"engine at the last tick: {statuses}; spend and cost per 1k vs the naive baseline: largest relative "
          f"difference {worst:.1e}")
    for measured, name in ((run, "engine"), (before, "previous")):
        if measured is not None and any(measured.full_gc):
            rest = [ms for ms, g in zip(measured.eval_ms, measured.full_gc, strict=True) if not g]
            print(f"    {name}: {sum(measured.full_gc)} tick(s) included a full garbage collection of the process "
                  f"(it scans every object, the input frames' included); max of the other ticks "
                  f"{max(rest) if rest else float('nan'):.1f} ms")
    if before is not None:
        same = sum(list(map(_with_spend, a)) == b for a, b in zip(before.results, run.results, strict=True))
        print(f"previous vs this engine: results identical at {same}/{len(run.results)} evaluations; cold start "
              f"{before.cold_s / run.cold_s:.1f}× faster, tick evaluate "
              f"{statistics.median(before.eval_ms) / statistics.median(run.eval_ms):.1f}× faster, state "
              f"{before.state_bytes / run.state_bytes:.1f}× smaller")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
