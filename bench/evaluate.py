"""Evaluation benchmark: 1,000 objectives over 30 days of 1-minute data.

Run: ``.venv/bin/python -m bench.evaluate [services]`` (default 100 services × 10 objectives).

Each service exposes 7 series (requests by code 200/500, a latency histogram with buckets
0.1/0.25/0.5/+Inf, a pipeline last-success gauge) and carries 10 objectives over them:
3 availability targets, 4 latency objectives (thresholds/targets), 3 freshness objectives
(max ages) — objectives share their series, as real ones do. Prints:

(a) cold start: ``SLOEvaluator.ingest`` of the whole 30-day frame;
(b) per tick: ingest one new minute, then ``evaluate`` all objectives (target < 20 ms);
(c) memory: the engine's state arrays and the process's peak RSS;

and, in the same run, the naive baseline (filter + group_by over the raw rows per window
per objective), timed on a few objectives and scaled to all of them.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

import numpy as np
import polars as pl

from slo.engine import SLOEvaluator
from slo.spec import BURN_WINDOWS, SLOSpec
from store.types import SAMPLE_SCHEMA, parse_duration

MIN_MS = 60_000
DAYS = 30
TARGET_TICK_MS = 20.0
TARGET_COLD_S = 1.0


def _specs(services: int) -> list[SLOSpec]:
    specs: list[dict[str, object]] = []
    for i in range(services):
        svc = f'service="svc{i:03d}"'
        for target in (99.9, 99.5, 99.0):
            specs.append({
                "name": f"svc{i:03d}-availability-{target}",
                "objective": target,
                "sli": {"ratio": {"errors": f'requests_total{{{svc},code="500"}}',
                                  "total": f"requests_total{{{svc}}}"}},
            })
        for thr, target in (("100ms", 90.0), ("250ms", 99.0), ("500ms", 99.9), ("250ms", 95.0)):
            specs.append({
                "name": f"svc{i:03d}-latency-{thr}-{target}",
                "objective": target,
                "sli": {"latency": {"histogram": f"rq_seconds{{{svc}}}", "threshold": thr}},
            })
        for age in ("5m", "15m", "1h"):
            specs.append({
                "name": f"svc{i:03d}-freshness-{age}",
                "objective": 99.0,
                "sli": {"freshness": {"last_success": f"last_success_seconds{{{svc}}}", "max_age": age}},
            })
    return [SLOSpec.model_validate(s) for s in specs]


def _history(services: int, minutes: int, start_ms: int) -> pl.DataFrame:
    """The raw rows: one sample per series per minute, counters with noise, an incident, a reset."""
    rng = np.random.default_rng(1)
    ts = start_ms + np.arange(minutes, dtype=np.int64) * MIN_MS
    parts: list[pl.DataFrame] = []

    def add(metric: str, labels: str, values: np.ndarray) -> None:
        parts.append(pl.DataFrame({"timestamp": ts, "value": values}).with_columns(
            pl.lit(metric).alias("metric"), pl.lit(labels).alias("labels")
        ))

    for i in range(services):
        svc = f'service="svc{i:03d}"'
        req = rng.poisson(1000, minutes).astype(np.float64)
        err_rate = np.full(minutes, 0.0005)
        err_rate[minutes - 90 - i % 50 : minutes - 30] = 0.02 * (i % 4)
        err = rng.binomial(req.astype(np.int64), err_rate).astype(np.float64)
        reset = minutes // 2 + i * 7
        for code, inc in (("200", req - err), ("500", err)):
            cum = np.cumsum(inc)
            cum[reset:] -= cum[reset - 1]  # a restart: the counter starts again from zero
            add("requests_total", f'code="{code}",{svc}', cum)
        fast = rng.binomial(req.astype(np.int64), 0.6).astype(np.float64)
        mid = fast + rng.binomial((req - fast).astype(np.int64), 0.9).astype(np.float64)
        slow = mid + rng.binomial((req - mid).astype(np.int64), 0.9).astype(np.float64)
        for le, inc in (("0.1", fast), ("0.25", mid), ("0.5", slow), ("+Inf", req)):
            add("rq_seconds_bucket", f'le="{le}",{svc}', np.cumsum(inc))
        runs = (ts // 1000 // 600) * 600  # succeeds every 10 minutes …
        stall = minutes - 200 - 3 * i
        runs[stall:] = runs[stall]  # … until it stalls
        add("last_success_seconds", svc, runs.astype(np.float64))
    return pl.concat(parts).select(list(SAMPLE_SCHEMA.keys()))


def _naive(frame: pl.DataFrame, spec: SLOSpec, at_ms: int) -> dict[str, float | None]:
    """Baseline: filter the raw rows per window, per-series last − first (reset-corrected), sum."""
    out: dict[str, float | None] = {}
    ratio = spec.sli.ratio
    assert ratio is not None and ratio.errors is not None
    for w in (*BURN_WINDOWS, "30d"):
        lo = at_ms - round(parse_duration(w) * 1000)
        sums = []
        for sel in (ratio.errors, ratio.total):
            rows = sel.filter(frame.filter(pl.col("timestamp").is_between(lo, at_ms)))
            inc = (
                rows.sort("labels", "timestamp")
                .with_columns(d=pl.col("value").diff().over("labels"))
                .with_columns(inc=pl.when(pl.col("d") < 0).then(pl.col("value")).otherwise(pl.col("d")))
                .group_by("labels").agg(pl.col("inc").sum())
                .get_column("inc").sum()
            )
            sums.append(float(inc))
        out[w] = sums[0] / sums[1] if sums[1] > 0 else None
    return out


def main() -> None:
    """Run the benchmark and print its figures beside the baseline and the targets."""
    services = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    minutes = DAYS * 1440
    start_ms = 1_700_000_000_000 // MIN_MS * MIN_MS
    specs = _specs(services)
    t0 = time.perf_counter()
    frame = _history(services, minutes + 30, start_ms)
    history, ticks = (
        frame.filter(pl.col("timestamp") < start_ms + minutes * MIN_MS),
        frame.filter(pl.col("timestamp") >= start_ms + minutes * MIN_MS),
    )
    rss_data_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(specs)} objectives, {services * 7} series, {history.height:,} rows of 1-minute data "
          f"over {DAYS} d (generated in {time.perf_counter() - t0:.1f} s)")

    ev = SLOEvaluator(specs)
    t0 = time.perf_counter()
    ev.ingest(history)
    cold_s = time.perf_counter() - t0
    rss_after_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    tick_eval_ms: list[float] = []
    tick_ingest_ms: list[float] = []
    report = None
    for chunk in ticks.partition_by("timestamp", maintain_order=True):
        at = int(chunk.get_column("timestamp")[0])
        t0 = time.perf_counter()
        ev.ingest(chunk)
        t1 = time.perf_counter()
        report = ev.evaluate(at)
        t2 = time.perf_counter()
        tick_ingest_ms.append((t1 - t0) * 1000)
        tick_eval_ms.append((t2 - t1) * 1000)
    assert report is not None
    at_end = int(ticks.get_column("timestamp").max())  # type: ignore[arg-type]

    sample = [s for s in specs if s.sli.ratio is not None][:1]
    t0 = time.perf_counter()
    for s in sample:
        naive = _naive(frame.filter(pl.col("timestamp") <= at_end), s, at_end)
    naive_per_obj_s = (time.perf_counter() - t0) / len(sample)
    ours = ev.error_ratios(at_end, sample[-1].name)
    gap = max(
        abs((ours[w] or 0) - (naive[w] or 0)) / max(naive[w] or 1e-12, 1e-12) for w in ("1h", "6h", "1d")
    )

    statuses: dict[str, int] = {}
    for o in report.objectives:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    med = statistics.median(tick_eval_ms)
    print(f"(a) cold start: {cold_s:.2f} s for {history.height:,} rows "
          f"({history.height / cold_s / 1e6:.1f} M rows/s)   target < {TARGET_COLD_S:.0f} s")
    print(f"(b) tick: evaluate {len(specs)} objectives × {len(BURN_WINDOWS) + 1} windows: "
          f"median {med:.1f} ms, max {max(tick_eval_ms):.1f} ms over {len(tick_eval_ms)} ticks   "
          f"target < {TARGET_TICK_MS:.0f} ms")
    print(f"    ingest of one new minute ({ticks.height // len(tick_eval_ms)} rows): "
          f"median {statistics.median(tick_ingest_ms):.1f} ms")
    print(f"(c) memory: engine state {ev.memory_bytes() / 1e6:.1f} MB; peak RSS {rss_after_mb:.0f} MB "
          f"(of which the generated 30-day frame and its copies: {rss_data_mb:.0f} MB before the cold start)")
    print(f"    statuses at the last tick: {statuses}")
    print(f"baseline (filter + group_by over raw rows, per window per objective): "
          f"{naive_per_obj_s * 1000:.0f} ms per objective on {len(sample)} objectives; "
          f"scaled to {len(specs)}: {naive_per_obj_s * len(specs):.1f} s per tick "
          f"({naive_per_obj_s * len(specs) * 1000 / med:.0f}× the engine)")
    print(f"    largest 1h/6h/1d error-ratio difference engine vs baseline: {gap * 100:.3f}%")


if __name__ == "__main__":
    main()
