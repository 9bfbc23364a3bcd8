"""Guardrail benchmark: 1,000 cost guardrails over 30 days of 1-minute spend data.

Run: ``.venv/bin/python -m bench.guardrails [teams]`` (default 50 teams).

Each team has 4 spend series (one per model, ``redline_spend_usd_total{team,model}``), each model
an inference counter per team (``vllm:request_success_total{team,model}``): 400 series. Per team
20 guardrails: 12 budgets (month / week / quarter, UTC / Europe/Paris / Asia/Kolkata, credit or
reset, with and without showback by model, on the team's spend and on each model's) and 8 cost
per 1k (per model and team-wide, 1d and 30d windows, showback by model). The frame is sorted by
metric, labels, timestamp, as the store returns it. Measured: cold start (``ingest`` of the 30-day
frame), per tick ingest of one new minute and ``evaluate`` of all guardrails (30 ticks, median
and max), the evaluator's state bytes and the peak RSS; beside it the **naive baseline**: per
guardrail a polars filter of the raw rows and a group_by per series (value at the end minus value
at the start), timed on 20 guardrails and scaled to all.
"""

from __future__ import annotations

import gc
import resource
import statistics
import sys
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from slo.calendar import period_bounds
from slo.guardrails import GuardrailEvaluator
from slo.spec import GuardrailSpec
from store.types import SAMPLE_SCHEMA

MIN = 60_000
DAYS = 30
MODELS = ("llama", "mistral", "qwen", "gemma")
SPEND = "redline_spend_usd_total"
INFER = "vllm:request_success_total"
START = int(datetime(2026, 10, 20, tzinfo=UTC).timestamp() * 1000)


def _specs(teams: int) -> list[GuardrailSpec]:
    out: list[dict[str, object]] = []
    for t in range(teams):
        team = f'{SPEND}{{team="t{t}"}}'
        periods = [("month", "UTC"), ("week", "Europe/Paris"), ("quarter", "Asia/Kolkata"), ("month", "Europe/Paris")]
        for i, (period, tz) in enumerate(periods):
            out.append({"name": f"t{t}-budget-{i}", "budget": {
                "spend": team, "limit": 20_000 + 5_000 * i, "period": period, "timezone": tz,
                "decreases": "credit" if i % 2 else "reset", "showback_by": ["model"] if i < 2 else [],
            }})
        for i, m in enumerate(MODELS):
            sel = f'{SPEND}{{team="t{t}",model="{m}"}}'
            out.append({"name": f"t{t}-{m}-month", "budget": {"spend": sel, "limit": 6_000.0 + i}})
            out.append({"name": f"t{t}-{m}-week", "budget": {"spend": sel, "limit": 1_500.0, "period": "week"}})
            out.append({"name": f"t{t}-{m}-per1k", "window": "1d", "cost_per_1k": {
                "spend": sel, "inferences": f'{INFER}{{team="t{t}",model="{m}"}}', "max": 0.4,
            }})
        for w in ("1d", "30d", "7d", "3d"):
            out.append({"name": f"t{t}-per1k-{w}", "window": w, "cost_per_1k": {
                "spend": team, "inferences": f'{INFER}{{team="t{t}"}}', "max": 0.45, "showback_by": ["model"],
            }})
    return [GuardrailSpec.model_validate(s) for s in out]


def _frame(
    teams: int, minutes: int, rng: np.random.Generator
) -> tuple[pl.DataFrame, list[tuple[str, str]], list[float]]:
    ts = START + np.arange(minutes, dtype=np.int64) * MIN
    metrics: list[str] = []
    labels: list[str] = []
    values: list[np.ndarray] = []
    rates: list[float] = []
    for metric, scale in ((SPEND, 0.01), (INFER, 30.0)):
        for t in range(teams):
            for m in MODELS:
                step = rng.gamma(4.0, scale / 4.0, minutes)
                step[0] = 0.0
                metrics.append(metric)
                labels.append(f'model="{m}",team="t{t}"')
                values.append(np.cumsum(step))
                rates.append(scale)
    n = len(metrics)
    frame = pl.DataFrame({
        "metric": pl.Series(metrics).gather(np.repeat(np.arange(n), minutes)),
        "labels": pl.Series(labels).gather(np.repeat(np.arange(n), minutes)),
        "timestamp": np.tile(ts, n),
        "value": np.concatenate(values),
    }, schema=SAMPLE_SCHEMA)
    return frame, list(zip(metrics, labels, strict=True)), rates


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


def main(argv: list[str]) -> int:
    teams = int(argv[0]) if argv else 50
    rng = np.random.default_rng(7)
    minutes = DAYS * 1440
    specs = _specs(teams)
    t0 = time.perf_counter()
    full, series, rates = _frame(teams, minutes + 30, rng)
    history = full.filter(pl.col("timestamp") < START + minutes * MIN).sort("metric", "labels", "timestamp")
    ticks = full.filter(pl.col("timestamp") >= START + minutes * MIN).partition_by("timestamp", maintain_order=True)
    del full
    print(f"{len(specs)} guardrails, {len(series)} series, {history.height:,} history rows "
          f"(built in {time.perf_counter() - t0:.1f} s)")

    ev = GuardrailEvaluator(specs)
    gc.collect()
    t0 = time.perf_counter()
    ev.ingest(history)
    cold = time.perf_counter() - t0
    at = START + (minutes - 1) * MIN
    t0 = time.perf_counter()
    first = ev.evaluate(at)
    first_eval = time.perf_counter() - t0
    ingest_s: list[float] = []
    eval_s: list[float] = []
    for part in ticks:
        at = int(part.get_column("timestamp")[0])
        t0 = time.perf_counter()
        ev.ingest(part)
        t1 = time.perf_counter()
        results = ev.evaluate(at)
        t2 = time.perf_counter()
        ingest_s.append(t1 - t0)
        eval_s.append(t2 - t1)
    statuses = {s: sum(r.status == s for r in results) for s in ("ok", "warning", "breached", "no_data")}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"engine: cold start {cold:.2f} s; first evaluate {first_eval * 1000:.1f} ms")
    print(f"engine: tick ingest median {statistics.median(ingest_s) * 1000:.1f} ms (max {max(ingest_s) * 1000:.1f}), "
          f"evaluate median {statistics.median(eval_s) * 1000:.1f} ms (max {max(eval_s) * 1000:.1f})")
    print(f"engine: state {ev.memory_bytes() / 1e6:.0f} MB, peak RSS {rss_mb:.0f} MB; statuses {statuses}")

    sample = specs[:: max(1, len(specs) // 20)][:20]
    by_name = {r.name: r for r in first}
    at = START + (minutes - 1) * MIN
    t0 = time.perf_counter()
    worst = 0.0
    for spec in sample:
        naive = _naive(history, spec, at)
        r = by_name[spec.name]
        mine = r.sli if spec.cost_per_1k is not None else (r.details or {}).get("spent")
        assert mine is not None
        worst = max(worst, abs(mine - naive) / max(abs(naive), 1e-12))
    per = (time.perf_counter() - t0) / len(sample)
    print(f"naive filter + group_by: {per * 1000:.0f} ms per guardrail → {per * len(specs):.1f} s for all "
          f"(timed on {len(sample)}); largest relative difference from the engine {worst:.1e}")
    _ = first, rates
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
