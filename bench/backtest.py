"""Backtest benchmark: 30 days of 100 objectives (ratio and latency) at 1-minute steps.

Run: ``.venv/bin/python -m bench.backtest [services]`` (default 15 services: 45 availability and 60
latency objectives, the first 100 kept; ``bench.evaluate``'s original mix without freshness). The
history is ``bench.evaluate``'s synthetic data, its request and histogram series only (1-minute
scrapes, an incident per service, a counter reset), 60 days long so that the 30-day
objective windows are full over the whole 30-day range. Measured in one run (2-core machine:
7.7 s, tracemalloc peak 438 MiB, RSS peak 1.98 GiB of which 1.15 GiB is the 7.8M-row history
held before the run; engine replay ~136 s; naive ~514 h):

- **backtest**: ``slo.backtest.backtest`` over the 30 days at 1-minute steps (43,200 steps), wall
  time, tracemalloc peak and the process's peak RSS during it (target < 10 s);
- **engine replay** of the same objectives, progressive ``ingest`` and ``evaluate`` at each step, timed on the
  first 2,000 steps and scaled to the range (what the vectorised path saves);
- **naive baseline**: each step's windows recomputed from the raw rows with polars (filter +
  group_by, ``bench.evaluate._naive``), timed on one availability objective at 10 steps and
  scaled to every objective and step.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc

import numpy as np

from bench.evaluate import MIN_MS, _history, _naive, _reset_peak, _rss_kb, _specs
from redline.slo.backtest import _engine_burns, backtest, compare
from redline.slo.spec import BURN_WINDOWS

DAYS = 30
TARGET_S = 10.0


def main(argv: list[str]) -> int:
    services = int(argv[0]) if argv else 15
    specs = [s for s in _specs(services, mixed=False) if s.kind in ("availability", "latency")][:100]
    start = 1_700_000_000_000 // 3_600_000 * 3_600_000
    minutes = 2 * DAYS * 1440
    t0 = time.perf_counter()
    history, _ = _history(services, minutes, 1, start)
    counters = history.filter(history["metric"].is_in(["requests_total", "rq_seconds_bucket"]))
    print(f"{len(specs)} objectives, {counters.height:,} rows over {2 * DAYS} days "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    start_ms = start + DAYS * 1440 * MIN_MS
    end_ms = start + (minutes - 1) * MIN_MS

    gc.collect()
    rss_before = _rss_kb("VmRSS")
    exact_peak = _reset_peak()
    tracemalloc.start()
    t0 = time.perf_counter()
    report = backtest(specs, counters, start_ms=start_ms, end_ms=end_ms, step_ms=MIN_MS)
    took = time.perf_counter() - t0
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _rss_kb("VmHWM")
    steps = (end_ms - start_ms) // MIN_MS + 1
    pages = sum(s.pages for s in report.summary)
    tickets = sum(s.tickets for s in report.summary)
    print(f"backtest: {steps:,} steps × {len(specs)} objectives in {took:.2f} s "
          f"(target < {TARGET_S:.0f} s) — {pages} pages, {tickets} tickets")
    print(f"  peak memory: tracemalloc {traced_peak / 2**20:.0f} MiB; RSS {rss_before / 1024:.0f} MiB before, "
          f"{peak / 1024:.0f} MiB peak{'' if exact_peak else ' (process peak: clear_refs unavailable)'}")

    relaxed = [s.model_copy(update={"objective": 99.0}) for s in specs]
    t0 = time.perf_counter()
    compare(specs, relaxed, counters, start_ms=start_ms, end_ms=end_ms, step_ms=MIN_MS)
    both = time.perf_counter() - t0
    t0 = time.perf_counter()
    for group in (specs, relaxed):  # the previous approach: each replay reads the counters again
        backtest(group, counters, start_ms=start_ms, end_ms=end_ms, step_ms=MIN_MS)
    separate = time.perf_counter() - t0
    print(f"compare (current vs 99%): {both:.2f} s, counters read once; two separate backtests {separate:.2f} s")

    n_engine = 2000
    steps_arr = np.arange(start_ms, start_ms + n_engine * MIN_MS, MIN_MS, dtype=np.int64)
    t0 = time.perf_counter()
    _engine_burns(specs, counters, steps_arr, list(BURN_WINDOWS))
    engine_s = time.perf_counter() - t0
    print(f"engine replay: {n_engine:,} steps in {engine_s:.2f} s (incl. the cold start) → "
          f"~{engine_s * steps / n_engine:.0f} s for {steps:,} steps")

    spec = specs[0]
    t0 = time.perf_counter()
    for k in range(10):
        _naive(counters, spec, start_ms + k * 1440 * MIN_MS)
    per = (time.perf_counter() - t0) / 10
    print(f"naive baseline: {per * 1000:.0f} ms per objective per step (1 objective × 10 steps) → "
          f"~{per * steps * len(specs) / 3600:.0f} h for {steps:,} steps × {len(specs)} objectives")
    return 0 if took < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
