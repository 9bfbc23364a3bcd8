"""Evaluation benchmark: 1,000 objectives over 30 days of 1-minute data.

Run: ``.venv/bin/python -m bench.evaluate [services] [before-rev]`` (default 100 services × 10 objectives).

Each service exposes 12 series (requests by code 200/500, a latency histogram with buckets
0.1/0.25/0.5/+Inf, a pipeline last-success gauge, a rows-processed counter, four GPU
utilisation gauges on two hosts) and carries 10 objectives of mixed kinds over them: 2
availability, 2 latency, 2 freshness, 2 throughput (one with a capacity), 2 GPU band (per host
average, whole-service maximum) — objectives share their series, as real ones do. The
*original* mix (before throughput and GPU objectives) is 3 availability, 4 latency and 3
freshness objectives per service. The frame is sorted by metric, labels, timestamp, as the store
returns it. Measured, in one run:

- **engine** at full size, on the mixed kinds, on them with one objective in ten on a calendar
  month with maintenance windows and ``min_events``, and on the original mix: (a) cold start
  (``ingest`` of the 30-day frame), (b) per tick: ingest one new minute, then ``evaluate`` all
  objectives (target < 20 ms; 30 ticks), (c) the engine's state bytes and the process's peak RSS
  during those steps;
- **engine before** (commit ``BEFORE_REV``, or the second argument) on the mixed kinds, its
  reports compared with this engine's at every tick;
- **previous engine** (commit ``PREVIOUS_REV``, loaded from git into a temporary package) on the
  same frame and ticks with the original mix, its reports compared with this engine's at every
  tick (about 35 s of the run);
- **naive baseline**: filter + group_by over the raw rows per window, timed on one objective
  over the full frame and scaled to all objectives.
"""

from __future__ import annotations

import gc
import hashlib
import json
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench.legacy import load_slo_modules
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.units import parse_duration
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import BURN_WINDOWS, CalendarWindow, MaintenanceWindow, SLOSpec

MIN_MS = 60_000
DAYS = 30
TICKS = 30
TARGET_TICK_MS = 20.0
TARGET_COLD_S = 1.0
PREVIOUS_REV = "133cc5777f5692a4d99e0b0d8c436e5f2c0dcc9d"
"""The engine before the array rewrite (cold start by a join on label strings, tick per side)."""
BEFORE_REV = "9fa1f3561fe2792d28f12389479707f9d4227d8f"
"""The engine before slice groups were ingested all at once (a Python loop over groups per tick),
run on the mixed kinds: ``python -m bench.evaluate [services] [rev]`` compares with another commit."""


def _specs(services: int, *, mixed: bool = True) -> list[SLOSpec]:
    """10 objectives per service: the mixed kinds, or the original mix (``mixed=False``)."""
    specs: list[dict[str, object]] = []
    availability = (99.9, 99.5) if mixed else (99.9, 99.5, 99.0)
    latency = (("100ms", 90.0), ("250ms", 99.0)) if mixed else (
        ("100ms", 90.0), ("250ms", 99.0), ("500ms", 99.9), ("250ms", 95.0)
    )
    ages = ("5m", "1h") if mixed else ("5m", "15m", "1h")
    for i in range(services):
        svc = f'service="svc{i:03d}"'
        for target in availability:
            specs.append({
                "name": f"svc{i:03d}-availability-{target}",
                "objective": target,
                "sli": {"ratio": {"errors": f'requests_total{{{svc},code="500"}}',
                                  "total": f"requests_total{{{svc}}}"}},
            })
        for thr, target in latency:
            specs.append({
                "name": f"svc{i:03d}-latency-{thr}-{target}",
                "objective": target,
                "sli": {"latency": {"histogram": f"rq_seconds{{{svc}}}", "threshold": thr}},
            })
        for age in ages:
            specs.append({
                "name": f"svc{i:03d}-freshness-{age}",
                "objective": 99.0,
                "sli": {"freshness": {"last_success": f"last_success_seconds{{{svc}}}", "max_age": age}},
            })
        if not mixed:
            continue
        for floor, capacity in ((500, None), (800, 1500)):
            specs.append({
                "name": f"svc{i:03d}-throughput-{floor}",
                "objective": 99.0,
                "sli": {"throughput": {"counter": f"rows_processed_total{{{svc}}}", "min_rate": floor,
                                       "per": "1m", "capacity": capacity}},
            })
        for by, aggregate in ((["host"], "avg"), ([], "max")):
            specs.append({
                "name": f"svc{i:03d}-gpu-{aggregate}",
                "objective": 95.0,
                "sli": {"gpu": {"utilization": f"redline_gpu_utilization_ratio{{{svc}}}", "min": 0.3,
                                "max": 0.9, "by": by, "aggregate": aggregate}},
            })
    return [SLOSpec.model_validate(s) for s in specs]


def _windowed(specs: list[SLOSpec]) -> list[SLOSpec]:
    """One objective in ten (every kind in turn) on a calendar month in Europe/Paris, with a
    recurring and a one-off maintenance window and a minimum of events."""
    calendar = CalendarWindow(period="month", timezone="Europe/Paris")
    maintenance = (
        MaintenanceWindow(day="sunday", start="02:00", end="04:00", timezone="Europe/Paris"),
        MaintenanceWindow(start="2023-12-12T09:00:00Z", end="2023-12-12T11:30:00Z"),
    )
    update = {"calendar": calendar, "window": 31 * 86400.0, "maintenance": maintenance, "min_events": 100.0}
    return [s.model_copy(update=update) if i % 10 == (i // 10) % 10 else s for i, s in enumerate(specs)]


def _history(services: int, minutes: int, ticks: int, start_ms: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The raw rows: one sample per series per minute, counters with noise, an incident, a reset;
    the first ``minutes`` as one frame (the history), the last ``ticks`` minutes as another.

    Sorted by metric, labels, timestamp (the store's order). The first ``n`` services' series are
    the same whatever ``services`` is, so a smaller run sees a subset of a larger one.
    """
    hist_minutes = minutes
    minutes += ticks
    rng = np.random.default_rng(1)
    ts = start_ms + np.arange(minutes, dtype=np.int64) * MIN_MS
    series: dict[tuple[str, str], np.ndarray] = {}
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
            series[("requests_total", f'code="{code}",{svc}')] = cum
        fast = rng.binomial(req.astype(np.int64), 0.6).astype(np.float64)
        mid = fast + rng.binomial((req - fast).astype(np.int64), 0.9).astype(np.float64)
        slow = mid + rng.binomial((req - mid).astype(np.int64), 0.9).astype(np.float64)
        for le, inc in (("0.1", fast), ("0.25", mid), ("0.5", slow), ("+Inf", req)):
            series[("rq_seconds_bucket", f'le="{le}",{svc}')] = np.cumsum(inc)
        runs = (ts // 1000 // 600) * 600  # succeeds every 10 minutes …
        stall = minutes - 200 - 3 * i
        runs[stall:] = runs[stall]  # … until it stalls
        series[("last_success_seconds", svc)] = runs.astype(np.float64)
        rows = rng.poisson(1000, minutes).astype(np.float64)
        rows[stall:stall + 20] = 0.0  # the pipeline's stall: no rows processed
        rows_cum = np.cumsum(rows)
        rows_cum[reset:] -= rows_cum[reset - 1]
        series[("rows_processed_total", svc)] = rows_cum
        busy = np.clip(0.6 + 0.1 * rng.standard_normal((4, minutes)), 0.0, 1.0)
        busy[:, minutes - 60 - i % 40 :] = np.minimum(busy[:, minutes - 60 - i % 40 :] + 0.35, 1.0)  # a hot hour
        for g in range(4):
            series[("redline_gpu_utilization_ratio", f'gpu="{g}",host="h{g // 2}",{svc}')] = busy[g]
    keys = sorted(series)
    key_frame = pl.DataFrame(keys, schema={"metric": pl.String, "labels": pl.String}, orient="row")

    def frame(lo: int, hi: int) -> pl.DataFrame:
        """Minutes [lo, hi) of every series: the key columns gathered from the distinct keys."""
        which = pl.Series(np.repeat(np.arange(len(keys), dtype=np.uint32), hi - lo))
        return pl.DataFrame({
            "metric": key_frame.get_column("metric").gather(which),
            "labels": key_frame.get_column("labels").gather(which),
            "timestamp": np.tile(ts[lo:hi], len(keys)),
            "value": np.concatenate([series[k][lo:hi] for k in keys]),
        }, schema=SAMPLE_SCHEMA)

    return frame(0, hist_minutes), frame(hist_minutes, minutes)


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


# -- memory -------------------------------------------------------------------------------------


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    """Restart the kernel's peak-RSS count (Linux ``clear_refs``); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# -- one engine through the benchmark -----------------------------------------------------------


@dataclass
class Run:
    label: str
    objectives: int
    rows: int
    cold_s: float
    tick_ms: list[float]
    ingest_ms: list[float]
    full_gcs: int
    tick_ms_no_gc: list[float]
    """Evaluate times of the ticks without a full garbage collection of the process in them."""
    state_bytes: int
    rss_before_kb: int
    peak_kb: int
    digests: list[str]
    """A hash of each tick's ``status --json`` report (kept small: no garbage for the collector)."""
    last_report: dict[str, Any]


def _run(
    label: str,
    make: Callable[[], Any],
    specs: list[SLOSpec],
    history: pl.DataFrame,
    ticks: list[pl.DataFrame],
) -> tuple[Run, Any]:
    gc.collect()
    rss_before = _rss_kb("VmRSS")
    _reset_peak()
    engine = make()
    t0 = time.perf_counter()
    engine.ingest(history)
    cold_s = time.perf_counter() - t0
    full_gcs = 0

    def count_full(phase: str, info: dict[str, int]) -> None:
        nonlocal full_gcs
        if phase == "start" and info["generation"] == 2:
            full_gcs += 1

    gc.callbacks.append(count_full)
    tick_ms: list[float] = []
    no_gc: list[float] = []
    ingest_ms: list[float] = []
    digests: list[str] = []
    report: dict[str, Any] = {}
    try:
        for chunk in ticks:
            at = int(chunk.get_column("timestamp")[0])
            gcs_before = full_gcs
            t0 = time.perf_counter()
            engine.ingest(chunk)
            t1 = time.perf_counter()
            report_obj = engine.evaluate(at)
            t2 = time.perf_counter()
            ingest_ms.append((t1 - t0) * 1000)
            tick_ms.append((t2 - t1) * 1000)
            if full_gcs == gcs_before:
                no_gc.append(tick_ms[-1])
            report = report_obj.to_json()
            # The figures, not the words: a reason or a kind's details may be reworded between
            # versions (throughput figures joined the details), the numbers must not move.
            figures = [{k: v for k, v in o.items() if k not in ("reason", "details")} for o in report["objectives"]]
            digests.append(hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest())
    finally:
        gc.callbacks.remove(count_full)
    peak = _rss_kb("VmHWM")
    run = Run(
        label, len(specs), history.height, cold_s, tick_ms, ingest_ms, full_gcs, no_gc,
        engine.memory_bytes(), rss_before, peak, digests, report,
    )
    return run, engine


_ENGINE_MODULES = (
    "engine", "cumulative", "timeslice", "counters", "batches", "sides", "freshness_groups", "slice_groups",
)
"""The engine's own modules; an older engine is loaded with these from its commit (those that exist
there) and the rest of ``slo`` (spec, results, ranking) from the working tree."""


def _load_engine(tmp: Path, rev: str, package: str) -> tuple[Callable[[list[SLOSpec]], Any] | None, str]:
    """The engine of commit ``rev`` as package ``package`` in ``tmp`` (git show), or None and why not."""
    module, source = load_slo_modules(tmp, rev, package, _ENGINE_MODULES, "engine")
    return (None if module is None else module.SLOEvaluator), source


# -- output -------------------------------------------------------------------------------------


def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


_COLUMNS = (
    f"  {'':<36}{'cold start':>11}{'tick evaluate':>17}{'ingest 1 min':>14}{'state':>11}{'peak RSS':>11}"
)


def _row(run: Run, name: str) -> str:
    med, worst = statistics.median(run.tick_ms), max(run.tick_ms)
    return (
        f"  {name:<36}{run.cold_s:>9.2f} s{med:>8.1f} /{worst:>5.1f} ms"
        f"{statistics.median(run.ingest_ms):>11.1f} ms"
        f"{run.state_bytes / 1e6:>8.0f} MB{_mb(run.peak_kb):>11}"
    )


def _traced_cold_start_peak(specs: list[SLOSpec], history: pl.DataFrame) -> int:
    """Peak bytes allocated through Python and numpy during a cold start (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        SLOEvaluator(specs).ingest(history)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _full_gc_ms() -> float:
    t0 = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    """Run the benchmark and print its figures beside the previous engine, the baseline and the targets."""
    t_start = time.perf_counter()
    services = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    before_rev = sys.argv[2] if len(sys.argv) > 2 else BEFORE_REV
    minutes = DAYS * 1440
    start_ms = 1_700_000_000_000 // MIN_MS * MIN_MS
    split_ms = start_ms + minutes * MIN_MS
    specs = _specs(services)
    original = _specs(services, mixed=False)
    t0 = time.perf_counter()
    history, tick_frame = _history(services, minutes, TICKS, start_ms)
    ticks = tick_frame.partition_by("timestamp", maintain_order=True)
    gen_s = time.perf_counter() - t0
    input_kb = _rss_kb("VmRSS")
    print(f"{len(specs):,} objectives, {services * 12} series, {history.height:,} rows of "
          f"1-minute data over {DAYS} d (+{TICKS} one-minute ticks), sorted as the store returns them; "
          f"generated in {gen_s:.1f} s; process RSS with the input: {_mb(input_kb)}", flush=True)

    full, engine = _run("engine", lambda: SLOEvaluator(specs), specs, history, ticks)
    kinds: dict[str, int] = {}
    for s in specs:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    del engine
    windowed_specs = _windowed(specs)
    windowed, engine = _run("engine, windowed", lambda: SLOEvaluator(windowed_specs), windowed_specs, history, ticks)
    del engine
    same_mix, engine = _run("engine, original mix", lambda: SLOEvaluator(original), original, history, ticks)
    at_hist = split_ms - MIN_MS  # the naive baseline scans the history frame, so evaluate at its end
    sample = next(s for s in original if s.sli.ratio is not None)
    ours = engine.error_ratios(at_hist, sample.name)
    del engine
    traced = _traced_cold_start_peak(specs, history)
    traced_original = _traced_cold_start_peak(original, history)
    t0 = time.perf_counter()
    naive = _naive(history, sample, at_hist)
    naive_s = time.perf_counter() - t0
    gap = max(
        abs((ours[w] or 0) - (naive[w] or 0)) / max(naive[w] or 1e-12, 1e-12) for w in ("1h", "6h", "1d")
    )
    statuses: dict[str, int] = {}
    for o in full.last_report["objectives"]:
        statuses[o["status"]] = statuses.get(o["status"], 0) + 1

    with tempfile.TemporaryDirectory() as tmp:
        make_mixed, mixed_from = _load_engine(Path(tmp), before_rev, "before_slo")
        mixed_before = None
        if make_mixed is not None:
            mixed_before, _ = _run("engine before", lambda: make_mixed(specs), specs, history, ticks)
        make_previous, previous_from = _load_engine(Path(tmp), PREVIOUS_REV, "previous_slo")
        before = None
        if make_previous is not None:
            before, _ = _run("previous engine", lambda: make_previous(original), original, history, ticks)

    print()
    print(_COLUMNS)
    print(f"{len(specs):,} objectives, {full.rows:,} rows:")
    print(_row(full, "engine, mixed kinds"))
    if mixed_before is not None:
        print(_row(mixed_before, f"  the same before ({mixed_from})"))
    else:
        print(f"  engine before, mixed kinds: not measured: {mixed_from}")
    print(_row(windowed, "  1 in 10 calendar + maintenance"))
    print(_row(same_mix, "engine, original mix"))
    if before is not None:
        print(_row(before, f"previous engine ({previous_from})"))
    else:
        print(f"  previous engine: not measured: {previous_from}")
    print(f"  {'naive filter + group_by (scaled)':<36}{'':>11}{naive_s * len(specs):>11.0f} s/tick"
          f"   (timed on 1 objective: {naive_s * 1000:,.0f} ms, × {len(specs):,})")
    cold_target, tick_target = f"< {TARGET_COLD_S:.0f} s", f"< {TARGET_TICK_MS:.0f} ms"
    print(f"  {'targets':<36}{cold_target:>11}{tick_target:>17}")
    print()
    print(f"tick = evaluate all objectives × {len(BURN_WINDOWS) + 1} windows after ingesting one minute "
          f"({services * 12} rows): median / max over {TICKS} ticks")
    print(f"mixed kinds: {kinds}; original mix: availability, latency, freshness only (the previous engine's)")
    print("1 in 10 calendar + maintenance: the mixed kinds, every tenth objective on a calendar month in "
          "Europe/Paris with a weekly and a one-off maintenance window and min_events")
    for run in (full, mixed_before, windowed, same_mix, before):
        if run is not None and run.full_gcs:
            others = max(run.tick_ms_no_gc, default=float("nan"))
            print(f"    {run.label}: {run.full_gcs} tick(s) included a full garbage collection of the "
                  f"process (about {_full_gc_ms():.0f} ms here: it scans every object, polars' and numpy's "
                  f"included); max of the other ticks {others:.1f} ms")
    print(f"state = memory_bytes(); peak RSS = the process's high-water mark during cold start + ticks, "
          f"input frame ({_mb(input_kb)}) included; allocated at peak during the engine's cold start "
          f"(tracemalloc): {traced / 1e6:,.0f} MB mixed, {traced_original / 1e6:,.0f} MB original mix")
    print(f"engine at the last tick: {statuses}; 1h/6h/1d error ratios vs the naive baseline: "
          f"largest difference {gap * 100:.3f}%")
    if mixed_before is not None:
        same = sum(a == b for a, b in zip(mixed_before.digests, full.digests, strict=True))
        print(f"engine before ({mixed_from}) vs this engine (mixed kinds): figures identical at "
              f"{same}/{len(full.digests)} ticks; cold start {mixed_before.cold_s / full.cold_s:.2f}×, tick "
              f"{statistics.median(mixed_before.tick_ms) / statistics.median(full.tick_ms):.2f}×, one-minute ingest "
              f"{statistics.median(mixed_before.ingest_ms) / statistics.median(full.ingest_ms):.1f}× faster")
    if before is not None:
        ingest_x = statistics.median(before.ingest_ms) / statistics.median(same_mix.ingest_ms)
        same = sum(a == b for a, b in zip(before.digests, same_mix.digests, strict=True))
        print(f"previous vs this engine (original mix): figures identical at {same}/{len(same_mix.digests)} ticks; "
              f"cold start {before.cold_s / same_mix.cold_s:.0f}× faster, "
              f"tick {statistics.median(before.tick_ms) / statistics.median(same_mix.tick_ms):.1f}× faster, "
              f"one-minute ingest {ingest_x:.1f}× faster")
    print(f"(whole benchmark: {time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
