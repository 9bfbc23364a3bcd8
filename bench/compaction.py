"""Compaction cost over a simulated day: rows read, bytes written and time per cycle early vs
late in the day, incremental (the store's default ``CompactionPolicy``) beside the previous
approach, a whole-day rewrite every cycle (a policy that always merges the day into one file),
in the same run.

Run: ``.venv/bin/python -m bench.compaction``. Goal: the incremental store's late cycles cost
about what its early ones do (the whole-day rewrite's grow with the day), with bytes per
sample on disk at the end of the day no worse.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import CompactionPolicy, CompactionStats, SampleStore

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SERIES = 1000
SCRAPE_MS = 15_000
SCRAPES_PER_CYCLE = 20  # a 5-minute compaction interval
CYCLES = 48  # 4 hours of one day
WINDOW = 8  # cycles averaged for "early" and "late"
WHOLE_DAY = CompactionPolicy(merge_fanout=2, small_run_rows=10**15, max_merge_rows=10**15)


def cycle_frame(cycle: int, rng: np.random.Generator) -> pl.DataFrame:
    """One compaction interval of ``SERIES`` counters."""
    steps = np.arange(cycle * SCRAPES_PER_CYCLE, (cycle + 1) * SCRAPES_PER_CYCLE, dtype=np.int64)
    ts = T0 + np.tile(steps * SCRAPE_MS, SERIES) + rng.integers(0, 3, SERIES * len(steps))
    values = np.repeat(np.arange(SERIES, dtype=np.float64), len(steps)) * 1000 + np.tile(steps, SERIES) * 7
    labels = pl.Series([f'instance="host-{i % 50}",route="r{i}"' for i in range(SERIES)])
    return pl.DataFrame(
        {
            "metric": ["app_requests_total"] * len(ts),
            "labels": labels.gather(np.repeat(np.arange(SERIES), len(steps))),
            "timestamp": ts,
            "value": values,
        },
        schema=SAMPLE_SCHEMA,
    )


def simulate(root: Path, policy: CompactionPolicy | None) -> tuple[list[CompactionStats], list[float], float]:
    """Per-cycle stats and wall-clock seconds, and bytes per sample on disk at the end."""
    store = SampleStore(root, policy=policy)
    rng = np.random.default_rng(5)
    stats: list[CompactionStats] = []
    seconds: list[float] = []
    for cycle in range(CYCLES):
        store.append(cycle_frame(cycle, rng))
        t = time.perf_counter()
        stats.append(store.compact())
        seconds.append(time.perf_counter() - t)
    on_disk = sum(p.stat().st_size for p in (root / "segments").glob("*.parquet"))
    samples = CYCLES * SCRAPES_PER_CYCLE * SERIES
    got = store.read([], T0, T0 + 86_400_000)
    if got.height != samples:
        raise SystemExit(f"read back {got.height} samples, expected {samples}")
    return stats, seconds, on_disk / samples


def main() -> None:
    per_cycle = SERIES * SCRAPES_PER_CYCLE
    print(f"{CYCLES} cycles of {per_cycle:,} new samples ({SERIES} series x {SCRAPES_PER_CYCLE} scrapes) in one day;")
    print(f"early = cycles 1-{WINDOW}, late = the last {WINDOW}; figures are means per cycle (max in brackets)\n")
    print(f"{'approach':24} {'':6} {'rows read':>19} {'bytes written':>21} {'ms':>15} {'files':>6} {'B/sample':>9}")
    with tempfile.TemporaryDirectory(prefix="redline-bench-compaction-") as tmp:
        for name, policy in (("incremental (default)", None), ("whole-day rewrite", WHOLE_DAY)):
            root = Path(tmp) / name.split()[0]
            stats, seconds, bps = simulate(root, policy)
            files = len(list((root / "segments").glob("*.parquet")))
            for label, part, secs in (("early", stats[:WINDOW], seconds[:WINDOW]),
                                      ("late", stats[-WINDOW:], seconds[-WINDOW:])):
                rows = [s.rows_read for s in part]
                written = [s.bytes for s in part]
                ms = [x * 1000 for x in secs]
                print(
                    f"{name if label == 'early' else '':24} {label:6} "
                    f"{statistics.mean(rows):>9,.0f} [{max(rows):>7,}] "
                    f"{statistics.mean(written):>10,.0f} [{max(written):>8,}] "
                    f"{statistics.mean(ms):>6.0f} [{max(ms):>6.0f}] "
                    + (f"{files:>6} {bps:>9.3f}" if label == "late" else "")
                )
            total = sum(s.rows_read for s in stats)
            ratio = total / (CYCLES * per_cycle)
            print(f"{'':24} {'total':6} {total:>9,} rows read = {ratio:.1f} x the day's samples\n")


if __name__ == "__main__":
    main()
