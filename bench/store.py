"""Store benchmark: bytes per sample after compaction, and reading the last hour of 30 days.

Run: ``.venv/bin/python -m bench.store``. Each figure is printed next to its baseline from the
same run: polars ``write_parquet`` (zstd) of the long format, and a read of one file holding
all 30 days sorted by series. Target: at most 2 bytes per sample, lossless.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import Selector
from redline.store.embedded import SampleStore

SCRAPE_MS = 15_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TARGET_BYTES_PER_SAMPLE = 2.0


def _scrape_times(rng: np.random.Generator, n: int, offset_ms: int) -> np.ndarray:
    """A scraper's timestamps: the 15 s grid plus a few ms of scheduling jitter."""
    jitter = np.abs(rng.normal(0.0, 2.0, n)).round().astype(np.int64)
    return T0 + offset_ms + np.arange(n, dtype=np.int64) * SCRAPE_MS + jitter


def _counter(rng: np.random.Generator, rate_per_s: float, n: int, start: float = 0.0) -> np.ndarray:
    return start + np.cumsum(rng.poisson(rate_per_s * SCRAPE_MS / 1000, n)).astype(np.float64)


def demo_fleet(n: int, seed: int = 7) -> pl.DataFrame:
    """~40 series like the demo fleet's two targets, ``n`` scrapes each."""
    rng = np.random.default_rng(seed)
    api_ts = _scrape_times(rng, n, 0)
    pipe_ts = _scrape_times(rng, n, 4_000)
    series: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    api = 'instance="127.0.0.1:8001",service="inference-api",source="inference-api"'
    pipe = 'instance="127.0.0.1:8002",service="pipeline",source="pipeline"'
    for handler, scale in (("/v1/predict", 1.0), ("/v1/embed", 0.3)):
        for code, share in (("200", 0.97), ("404", 0.02), ("500", 0.008), ("503", 0.002)):
            labels = f'code="{code}",handler="{handler}",{api}'
            series.append(("http_requests_total", labels, api_ts, _counter(rng, 40 * scale * share, n)))
    # Latency histogram: a request falls in the first bucket above its latency.
    latencies_per_scrape = rng.poisson(40 * SCRAPE_MS / 1000, n)
    bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    shares = np.array([0.01, 0.04, 0.15, 0.3, 0.3, 0.15, 0.03, 0.01, 0.005, 0.003, 0.002])
    counts = rng.multinomial(latencies_per_scrape, shares / shares.sum())
    cumulative = np.cumsum(np.cumsum(counts, axis=1), axis=0).astype(np.float64)
    for i, le in enumerate(bounds):
        labels = f'le="{le}",{api}'
        series.append(("http_request_duration_seconds_bucket", labels, api_ts, cumulative[:, i]))
    total = cumulative[:, -1]
    series.append(("http_request_duration_seconds_bucket", f'le="+Inf",{api}', api_ts, total))
    series.append(("http_request_duration_seconds_count", api, api_ts, total))
    sums = np.cumsum(latencies_per_scrape * rng.gamma(2.0, 0.04, n))
    series.append(("http_request_duration_seconds_sum", api, api_ts, sums))
    series.append(("inferences_total", f'model="ranker",{api}', api_ts, _counter(rng, 38.0, n)))
    for labels, ts, cpu in ((api, api_ts, 0.3), (pipe, pipe_ts, 0.1)):
        seconds = np.round(np.cumsum(rng.uniform(0, cpu, n)), 2)
        series.append(("process_cpu_seconds_total", labels, ts, seconds))
    series.append(("process_resident_memory_bytes", api, api_ts,
                    (512e6 + 4096 * rng.integers(0, 2000, n)).astype(np.float64)))
    # Pipeline: a run every 10 minutes; last-success timestamp in unix seconds (a float gauge).
    runs = (api_ts - T0) // 600_000
    last_success = (T0 / 1000 + runs * 600 + 37.25).astype(np.float64)
    job = f'job="features",{pipe}'
    series.append(("pipeline_last_success_timestamp_seconds", job, pipe_ts, last_success))
    rows = np.cumsum(np.where(np.diff(runs, prepend=-1) > 0, rng.integers(90_000, 110_000, n), 0))
    series.append(("pipeline_rows_processed_total", job, pipe_ts, rows.astype(np.float64)))
    series.append(("pipeline_queue_depth", job, pipe_ts, rng.integers(0, 30, n).astype(np.float64)))
    for source, ts in (("inference-api", api_ts), ("pipeline", pipe_ts)):
        series.append(("up", f'source="{source}"', ts, np.ones(n)))
        series.append(("scrape_duration_seconds", f'source="{source}"', ts, rng.gamma(2.0, 0.002, n)))
        series.append(("scrape_samples_scraped", f'source="{source}"', ts, np.full(n, 38.0)))
    while len(series) < 40:
        k = len(series)
        series.append(("redline_source_samples_total", f'n="{k}"', api_ts, _counter(rng, 2.5, n)))
    return _frame(series)


def counters(n_series: int, n: int, seed: int = 11) -> pl.DataFrame:
    """``n_series`` counters with Poisson increments at rates from 0.01/s to 100/s."""
    rng = np.random.default_rng(seed)
    ts = _scrape_times(rng, n, 0)
    rates = 10 ** rng.uniform(-2, 2, n_series)
    series = [
        ("app_requests_total", f'instance="host-{i % 50}",route="r{i}"', ts, _counter(rng, float(r), n))
        for i, r in enumerate(rates)
    ]
    return _frame(series)


def _frame(series: list[tuple[str, str, np.ndarray, np.ndarray]]) -> pl.DataFrame:
    owner = np.repeat(np.arange(len(series)), [len(ts) for _, _, ts, _ in series])
    return pl.DataFrame(
        {
            "metric": pl.Series([m for m, _, _, _ in series]).gather(owner),
            "labels": pl.Series([lb for _, lb, _, _ in series]).gather(owner),
            "timestamp": np.concatenate([ts for _, _, ts, _ in series]),
            "value": np.concatenate([v for _, _, _, v in series]),
        },
        schema=SAMPLE_SCHEMA,
    )


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


def bytes_per_sample(
    name: str, frame: pl.DataFrame, chunks: int, root: Path
) -> tuple[str, int, float, float]:
    """Store ``frame`` in ``chunks`` time-ordered appends, compact, check losslessness."""
    store = SampleStore(root / name, retention_seconds=400 * 86400)
    ts = frame.get_column("timestamp")
    edges = np.linspace(int(ts.min()), int(ts.max()) + 1, chunks + 1).astype(np.int64)  # type: ignore[arg-type]
    for lo, hi in itertools.pairwise(edges):
        store.append(frame.filter(pl.col("timestamp").is_between(int(lo), int(hi), closed="left")))
    store.compact()
    got = store.read([], int(ts.min()), int(ts.max()))  # type: ignore[arg-type]
    want = frame.sort("metric", "labels", "timestamp")
    same = got.select("metric", "labels", "timestamp").equals(want.select("metric", "labels", "timestamp"))
    same_bits = bool(
        np.array_equal(got.get_column("value").to_numpy().view(np.uint64),
                       want.get_column("value").to_numpy().view(np.uint64))
    )
    if not (same and same_bits):
        raise SystemExit(f"{name}: the round trip is not lossless")
    baseline = root / f"{name}-baseline.parquet"
    frame.write_parquet(baseline, compression="zstd")
    n = frame.height
    return name, n, _dir_bytes(root / name) / n, baseline.stat().st_size / n


def last_hour_read(root: Path) -> tuple[int, float, float]:
    """Median ms to read the last hour out of 30 days: the store vs one file sorted by series."""
    days = 30
    per_day = 86_400_000 // SCRAPE_MS
    full = demo_fleet(per_day * days, seed=3)
    store = SampleStore(root / "month", retention_seconds=35 * 86400)
    for d in range(days):
        store.append(full.filter(pl.col("timestamp") // 86_400_000 == T0 // 86_400_000 + d))
        if d % 5 == 4:
            store.compact()
    store.compact()
    newest = store.newest_timestamp_ms()
    assert newest is not None
    start = newest - 3_600_000
    one_file = root / "month-by-series.parquet"
    full.sort("metric", "labels", "timestamp").write_parquet(one_file, compression="zstd")
    sel = [Selector("http_requests_total")]

    def timed(action: object) -> float:
        runs = []
        for _ in range(7):
            t = time.perf_counter()
            action()  # type: ignore[operator]
            runs.append((time.perf_counter() - t) * 1000)
        return statistics.median(runs)

    expected = full.filter(pl.col("timestamp") >= start, pl.col("metric") == "http_requests_total").height
    got = store.read(sel, start, newest).height
    if got != expected:
        raise SystemExit(f"last-hour read returned {got} samples, expected {expected}")
    ours = timed(lambda: store.read(sel, start, newest))
    base = timed(
        lambda: pl.scan_parquet(one_file)
        .filter(pl.col("timestamp").is_between(start, newest), pl.col("metric") == "http_requests_total")
        .collect()
    )
    return full.height, ours, base


def demo_generator(step_s: float) -> pl.DataFrame:
    """Two days of the demo fleet's own series, made by its own traffic model (redline.demo.history)
    and read back by the real importer's parser: the data `make demo` stores, at one step."""
    from redline.collectors.exposition import ExpositionParser
    from redline.demo.history import write_history

    with tempfile.TemporaryDirectory(prefix="redline-bench-demo-") as tmp:
        path = Path(tmp) / "history.om"
        write_history(path, end_s=time.time(), duration_s=2 * 86400, step_s=step_s, seed=7)
        parsed = ExpositionParser().parse(path.read_text(), default_timestamp_ms=0, openmetrics=True)
    return parsed.samples


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="redline-bench-store-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        rows = [
            bytes_per_sample("demo fleet, 40 series x 2 days", demo_fleet(2 * 5760), 2 * 24 * 12, root),
            bytes_per_sample("counters, 1000 series x 10000", counters(1000, 10_000), 20, root),
            *(
                bytes_per_sample(f"demo fleet generator, 2 days @{step}s", demo_generator(step), 2 * 24, root)
                for step in (5, 15, 60)
            ),
        ]
        print(f"{'data':34} {'samples':>11} {'store B/sample':>15} {'polars zstd B/sample':>21} {'ratio':>6}")
        for name, n, ours, base in rows:
            verdict = "ok" if ours <= TARGET_BYTES_PER_SAMPLE else f"OVER {TARGET_BYTES_PER_SAMPLE}"
            print(f"{name:34} {n:>11,} {ours:>15.3f} {base:>21.3f} {base / ours:>5.1f}x  {verdict}")
        samples, ours_ms, base_ms = last_hour_read(root)
        print(f"\nread last hour (http_requests_total) of 30 days, {samples:,} samples stored:")
        print(f"  store (daily segments, 4h row groups): {ours_ms:8.2f} ms")
        slower = base_ms / ours_ms
        print(f"  one parquet file sorted by series:     {base_ms:8.2f} ms   ({slower:.1f}x slower)")
        print(f"\n(total bench time {time.perf_counter() - t:.0f} s; round trips verified bit for bit)")


if __name__ == "__main__":
    main()
