"""Query-SLI benchmark: objectives whose PromQL runs on a real Prometheus, and their evaluation.

Run: ``.venv/bin/python -m bench.query_sli``. Two parts:

1. **One collection against Prometheus** (Debian's ``prometheus`` 2.42 on 127.0.0.1, 7 days of
   1-minute counters for 50 services backfilled with ``promtool``): the time to answer 50 query
   objectives at one instant, Redline's way — one request per side holding every window
   (``label_replace(...) or ...``), 2 requests per objective — beside the baseline of one request
   per side and window (16 per objective), both through the same HTTP client, median of 3.
   Skipped (said so) when ``prometheus``/``promtool`` are not installed.
2. **Evaluation from recorded answers**: 1,000 query objectives with one day of answers at
   1-minute collections (23M rows, the most a cold start reads is the 3-day burn window); cold
   start (ingest), then five collections each ingested and evaluated (medians), beside the native engine on
   1,000 ratio objectives over one day of 1-minute counters in the same run.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
import numpy as np
import polars as pl

from redline.collectors.base import CollectorContext
from redline.collectors.promql import PromQLCollector, PromQLConfig, PromQLQuery
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.units import format_duration
from redline.slo.engine import SLOEvaluator
from redline.slo.query_sli import QUERY_SLI_METRIC, window_lengths, window_queries
from redline.slo.spec import BURN_WINDOWS, WINDOW_PLACEHOLDER_RE, SLOSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.prometheus_server import backfill, serve_prometheus

SERVICES = 50
DAYS = 7
END_S = 1_767_225_600
N_EVAL = 1000
EVAL_MINUTES = 1440
TICKS = 5
WINDOWS = (*BURN_WINDOWS, "slo")


def _spec(i: int, sli: dict[str, object]) -> SLOSpec:
    return SLOSpec.model_validate({"name": f"svc-{i:04d}", "objective": 99.9, "sli": sli})


def _query_spec(i: int) -> SLOSpec:
    svc = f'service="s{i % SERVICES:02d}"'
    return _spec(i, {"query": {
        "source": "prom",
        "errors": f'sum(rate(http_requests_total{{{svc},code="500"}}[{{{{.window}}}}]))',
        "total": f"sum(rate(http_requests_total{{{svc}}}[{{{{.window}}}}]))",
    }})


def _history() -> str:
    rng = np.random.default_rng(7)
    lines = ["# HELP http_requests Requests.", "# TYPE http_requests counter"]
    steps = DAYS * 1440
    for s in range(SERVICES):
        for code, mean in (("200", 600.0), ("500", 0.6)):
            counts = np.cumsum(rng.poisson(mean, steps))
            start = END_S - steps * 60
            lines += [
                f'http_requests_total{{service="s{s:02d}",code="{code}"}} {c} {start + k * 60}'
                for k, c in enumerate(counts.tolist())
            ]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _naive_queries(spec: SLOSpec, at_ms: int) -> list[PromQLQuery]:
    """The baseline: one request per side and window."""
    sli = spec.sli.query
    assert sli is not None
    return [
        PromQLQuery(record=QUERY_SLI_METRIC, query=WINDOW_PLACEHOLDER_RE.sub(format_duration(sec), q),
                    labels={"slo": spec.name, "side": side, "window": w})
        for side, q in sli.queries().items()
        for w, sec in window_lengths(spec, at_ms).items()
    ]


def _collection_times(url: str, specs: list[SLOSpec]) -> tuple[float, float, int, int]:
    config = PromQLConfig.model_validate({"name": "prom", "kind": "promql", "url": url, "interval": 60, "timeout": 60})
    with httpx.Client() as client:
        context = CollectorContext(clock=lambda: END_S, env={}, http=client)
        combined = PromQLCollector(config, context, planned=lambda t: [
            PromQLQuery(record=QUERY_SLI_METRIC, query=q, labels={"slo": s.name, "side": side})
            for s in specs for side, q in window_queries(s, t)
        ])
        naive = PromQLCollector(config, context, planned=lambda t: [
            q for s in specs for q in _naive_queries(s, t)
        ])
        times: dict[str, list[float]] = {"combined": [], "naive": []}
        rows = {}
        for _ in range(3):
            for name, collector in (("combined", combined), ("naive", naive)):
                started = time.perf_counter()
                result = collector.collect()
                times[name].append(time.perf_counter() - started)
                assert result.health.ok, result.health.error
                rows[name] = result.samples.height
    assert rows["combined"] == rows["naive"] == len(specs) * 2 * len(WINDOWS), rows
    return statistics.median(times["combined"]), statistics.median(times["naive"]), 2 * len(specs), 16 * len(specs)


def part_prometheus() -> None:
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        print("collection against Prometheus: skipped (prometheus/promtool not installed; `make test` installs them)")
        return
    specs = [_query_spec(i) for i in range(SERVICES)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        data = backfill(_history(), root)
        print(f"backfilled {SERVICES} services × 2 codes × {DAYS} d at 1 min in {time.perf_counter() - started:.1f} s")
        with serve_prometheus(data, root) as url:
            combined, naive, n_combined, n_naive = _collection_times(url, specs)
    print(f"one collection, {SERVICES} query objectives × 8 windows (5m … 30d) × 2 sides:")
    print(f"  Redline (a request per side, windows joined by `or`): {combined * 1000:6.0f} ms ({n_combined} requests)")
    print(f"  baseline (a request per side and window):             {naive * 1000:6.0f} ms ({n_naive} requests)")
    print(f"  speed-up: {naive / combined:.2f}×")


def _answers(specs: list[SLOSpec], minutes: int, end_ms: int) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    n, m = len(specs), minutes
    ts = end_ms - (np.arange(m, dtype=np.int64)[::-1] * 60_000)
    parts = []
    for w in WINDOWS:
        total = rng.uniform(50, 150, (n, m))
        for side, values in (("errors", total * rng.uniform(0, 0.002, (n, m))), ("total", total)):
            labels = [f'side="{side}",slo="{s.name}",source="prom",window="{w}"' for s in specs]
            parts.append(pl.DataFrame({
                "metric": pl.Series([QUERY_SLI_METRIC] * (n * m), dtype=pl.String),
                "labels": pl.Series(np.repeat(labels, m), dtype=pl.String),
                "timestamp": np.tile(ts, n),
                "value": values.ravel(),
            }, schema=SAMPLE_SCHEMA))
    return pl.concat(parts)


def _counters(specs: list[SLOSpec], minutes: int, end_ms: int) -> pl.DataFrame:
    rng = np.random.default_rng(4)
    n, m = len(specs), minutes
    ts = end_ms - (np.arange(m, dtype=np.int64)[::-1] * 60_000)
    parts = []
    for code, mean in (("200", 100.0), ("500", 0.1)):
        counts = np.cumsum(rng.poisson(mean, (n, m)), axis=1).astype(np.float64)
        labels = [f'code="{code}",service="n{i:04d}"' for i in range(n)]
        parts.append(pl.DataFrame({
            "metric": pl.Series(["http_requests_total"] * (n * m), dtype=pl.String),
            "labels": pl.Series(np.repeat(labels, m), dtype=pl.String),
            "timestamp": np.tile(ts, n), "value": counts.ravel(),
        }, schema=SAMPLE_SCHEMA))
    return pl.concat(parts).sort("metric", "labels", "timestamp")


def _measure(
    specs: list[SLOSpec], history: pl.DataFrame, ticks: list[pl.DataFrame], at_ms: int
) -> tuple[float, float, float, int]:
    """Cold start on ``history``, then each of ``ticks`` (one collection each) ingested and
    evaluated: the medians."""
    tracemalloc.start()
    started = time.perf_counter()
    ev = SLOEvaluator(specs)
    ev.ingest(history)
    cold = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ingests, evaluations = [], []
    for k, tick in enumerate(ticks, start=1):
        started = time.perf_counter()
        ev.ingest(tick)
        ingests.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = ev.evaluate(at_ms + k * 60_000)
        evaluations.append(time.perf_counter() - started)
        assert len(report.objectives) == len(specs)
        assert all(o.sli is not None for o in report.objectives), [o.reason for o in report.objectives[:3]]
    return cold, statistics.median(ingests), statistics.median(evaluations), peak


def _ticks(frame: pl.DataFrame, end_ms: int) -> list[pl.DataFrame]:
    return [frame.filter(pl.col("timestamp") == end_ms + k * 60_000) for k in range(1, TICKS + 1)]


def part_evaluation() -> None:
    end_ms = END_S * 1000
    query_specs = [_query_spec(i) for i in range(N_EVAL)]
    answers = _answers(query_specs, EVAL_MINUTES + TICKS, end_ms + TICKS * 60_000)
    history = answers.filter(pl.col("timestamp") <= end_ms)
    q_cold, q_ingest, q_tick, q_peak = _measure(query_specs, history, _ticks(answers, end_ms), end_ms)

    native_specs = [_spec(i, {"ratio": {
        "errors": f'http_requests_total{{service="n{i:04d}",code="500"}}',
        "total": f'http_requests_total{{service="n{i:04d}"}}',
    }}) for i in range(N_EVAL)]
    counters = _counters(native_specs, EVAL_MINUTES + TICKS, end_ms + TICKS * 60_000)
    n_history = counters.filter(pl.col("timestamp") <= end_ms)
    n_cold, n_ingest, n_tick_s, n_peak = _measure(native_specs, n_history, _ticks(counters, end_ms), end_ms)

    print(f"evaluation, {N_EVAL:,} objectives, one day at 1-minute collections:")
    print(f"  {'':34s} {'cold start':>10s} {'ingest 1 min':>13s} {'tick':>9s} {'peak traced':>12s}")
    print(f"  {'query SLIs (' + format(history.height, ',') + ' answers)':34s} {q_cold:9.2f}s "
          f"{q_ingest * 1000:11.1f}ms {q_tick * 1000:7.1f}ms {q_peak / 2**20:9.0f} MiB")
    print(f"  {'native ratio (' + format(n_history.height, ',') + ' samples)':34s} {n_cold:9.2f}s "
          f"{n_ingest * 1000:11.1f}ms {n_tick_s * 1000:7.1f}ms {n_peak / 2**20:9.0f} MiB")


def main() -> None:
    part_prometheus()
    part_evaluation()


if __name__ == "__main__":
    main()
