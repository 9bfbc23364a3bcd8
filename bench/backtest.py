"""Backtest benchmark: ``redline backtest --compare`` on the demo's data, old vs new; and 30 days of
100 objectives (ratio and latency) at 1-minute steps.

Run: ``.venv/bin/python -m bench.backtest [services] [--no-reference]`` (about 5 minutes, most of it
the old way, run once; ``--no-reference`` skips it).

- **demo** (issue 14: "``backtest --compare`` on the demo's data takes under 10 s"): the data
  ``redline demo`` backfills (``redline.demo.history``, 30 days at 1-minute steps, seed 7, and the
  rate card's spend), imported into a data directory with the demo's config; then
  ``redline backtest --since 30d --compare-objective 99.5`` as a command (wall time from start to
  exit, three runs: imports, the store read and both replays), and the comparison alone in this
  process on the same samples, new (``slo.backtest.compare``) against old
  (``slo.backtest_reference.reference_compare``: the freshness and GPU-band objectives through the
  live evaluator, one ``ingest`` and ``evaluate`` per minute, and the hysteresis stepped one step at
  a time; slow, so run once), with a check that both give the same episodes and summary. Then the
  what-if page's comparison (``dashboard.data.what_if_and_history``: 30 days at 5-minute steps,
  the objective against one step looser) for each demo objective, and the old way for the two
  time-slice ones.
- **100 objectives**: ``slo.backtest.backtest`` over the 30 days at 1-minute steps (43,200 steps),
  wall time, tracemalloc peak and the process's peak RSS during it (target < 10 s); the history is
  ``bench.evaluate``'s synthetic data, its request and histogram series only (1-minute scrapes, an
  incident per service, a counter reset), 60 days long so that the 30-day objective windows are
  full over the whole 30-day range; ``compare`` against a 99% objective; the **engine replay** of the
  same objectives (progressive ``ingest`` and ``evaluate`` at each step) timed on the first 2,000
  steps and scaled to the range; the **naive baseline** (each step's windows recomputed from the
  raw rows with polars, ``bench.evaluate._naive``) timed on one objective at 10 steps and scaled.
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import yaml

from bench.evaluate import MIN_MS, _history, _naive, _reset_peak, _rss_kb, _specs
from redline.agent.analysis import read_samples
from redline.agent.demo import EXAMPLE_CONFIG, SEED, demo_config, write_spend_history
from redline.agent.importer import import_history
from redline.agent.wiring import writable_store
from redline.config import LoadedConfig, load_config
from redline.dashboard.data import what_if_and_history
from redline.demo.history import write_history
from redline.demo.timeline import TIMELINES
from redline.slo.backtest import _engine_burns, backtest, compare
from redline.slo.backtest_reference import reference_compare
from redline.slo.evaluation import history_seconds, read_start_ms
from redline.slo.groups import sli_selectors
from redline.slo.spec import BURN_WINDOWS, SLOSpec

T = TypeVar("T")
DAYS = 30
TARGET_S = 10.0
DEMO_END_S = 1_764_000_000.0
"""The demo history's last sample (fixed, so every run reads the same data)."""
LOOSER = {99.9: 99.5, 99.0: 98.0, 95.0: 90.0}
"""The what-if page's "one step looser" for the demo's targets."""


def _demo_data(tmp: Path) -> LoadedConfig:
    """What ``redline demo`` backfills (30 days of the fleet's series and the rate card's spend,
    seed 7), imported into ``tmp/data`` with the demo's config."""
    history = write_history(tmp / "history.om", end_s=DEMO_END_S, duration_s=TIMELINES["real"].history_s,
                            step_s=60, seed=SEED)
    raw = demo_config(EXAMPLE_CONFIG, data_dir=tmp / "data", api_url="http://127.0.0.1:9/metrics",
                      pipeline_url="http://127.0.0.1:9/metrics", listen_port=9)
    (tmp / "demo.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    loaded = load_config(tmp / "demo.yaml")
    store = writable_store(loaded)
    write_spend_history(tmp / "spend.om", start_s=history.start_s, end_s=history.end_s)
    for path in (tmp / "history.om", tmp / "spend.om"):
        import_history(path, store)
    return loaded


def _cpu_timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """``fn()``, its wall time and its CPU time (this process and the children it waited for), seconds:
    on a shared machine the CPU time says what the wall time would be on an idle one."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, wall, time.process_time() - c0 + children


def _demo(reference: bool) -> bool:
    """``backtest --compare`` and the what-if page's comparison on the demo's data; True when the
    command takes under ``TARGET_S`` and, when run, the old way gives the same answers."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        loaded = _demo_data(Path(tmp))
        specs = list(loaded.config.slos)
        end_ms = int(DEMO_END_S * 1000)
        start_ms = end_ms - DAYS * 86_400_000
        command = [sys.executable, "-m", "redline.agent.cli", "backtest", "--config", str(Path(tmp) / "demo.yaml"),
                   "--since", f"{DAYS}d", "--at", str(DEMO_END_S), "--compare-objective", "99.5"]
        runs = [_cpu_timed(lambda: subprocess.run(command, check=True, capture_output=True))[1:] for _ in range(3)]
        print(f"demo: {len(specs)} objectives, 30 days at 1-minute steps (43,201 steps), current vs 99.5%; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        each = ", ".join(f"{wall:.2f} s ({cpu:.2f} s CPU)" for wall, cpu in runs)
        median = statistics.median(wall for wall, _ in runs)
        print(f"  redline backtest --compare-objective 99.5 (the command, start to exit): {each}; "
              f"median {median:.2f} s (target < {TARGET_S:.0f} s)")
        ok = median < TARGET_S
        samples = read_samples(loaded, [sel for s in specs for sel in sli_selectors(s)],
                               read_start_ms(history_seconds(specs), start_ms), end_ms)
        relaxed = [s.model_copy(update={"objective": 99.5}) for s in specs]
        labels = ("current", "objective 99.5")
        new, new_s, new_cpu = _cpu_timed(lambda: compare(specs, relaxed, samples, start_ms=start_ms, end_ms=end_ms,
                                                         step_ms=MIN_MS, labels=labels))
        line = f"  the comparison alone ({samples.height:,} samples): new {new_s:.2f} s ({new_cpu:.2f} s CPU)"
        if reference:
            old, old_s, old_cpu = _cpu_timed(lambda: reference_compare(
                specs, relaxed, samples, start_ms=start_ms, end_ms=end_ms, step_ms=MIN_MS, labels=labels))
            same = old == new
            ok = ok and same
            line += (f"; old {old_s:.1f} s ({old_cpu:.1f} s CPU; run once: one ingest and evaluate per minute for "
                     f"the time-slice objectives); {old_cpu / new_cpu:.0f}× less CPU; same episodes, summary: {same}")
        print(line)
        print("  what-if page (dashboard.data.what_if_and_history: 30 days at 5-minute steps, one step looser)")
        for spec in specs:
            ok = _what_if(loaded, spec, end_ms, reference) and ok
    return ok


def _what_if(loaded: LoadedConfig, spec: SLOSpec, at_ms: int, reference: bool) -> bool:
    looser = LOOSER.get(spec.objective, spec.objective - 1.0)
    (_, history), took, cpu = _cpu_timed(lambda: what_if_and_history(loaded, spec.name, at_ms, objective=looser))
    line = f"    {spec.name:<26} {spec.objective:g}% vs {looser:g}%: {took:.2f} s ({cpu:.2f} s CPU)"
    same = True
    if reference and (spec.sli.freshness is not None or spec.sli.gpu is not None):
        start_ms = at_ms - DAYS * 86_400_000
        samples = read_samples(loaded, sli_selectors(spec), read_start_ms(history_seconds([spec]), start_ms), at_ms)
        alt = spec.model_copy(update={"objective": looser})
        old, old_s, old_cpu = _cpu_timed(lambda: reference_compare([spec], [alt], samples, start_ms=start_ms,
                                                                   end_ms=at_ms, step_ms=300_000))
        same = old == history
        line += f"; its comparison the old way {old_s:.1f} s ({old_cpu:.1f} s CPU), same answers: {same}"
    print(line)
    return same


def main(argv: list[str]) -> int:
    reference = "--no-reference" not in argv
    args = [a for a in argv if a != "--no-reference"]
    demo_ok = _demo(reference)
    print()
    return 0 if _hundred(args) and demo_ok else 1


def _hundred(argv: list[str]) -> bool:
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
    return took < TARGET_S


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
