from __future__ import annotations

import numpy as np
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import SLOSpec

MIN = 60_000
T0 = 28_000_000 * MIN
STEP = 15_000  # 15 s scrapes: four samples in each 1-minute slice
DAYS = 2


def _frame() -> pl.DataFrame:
    """8 GPUs on 2 hosts and a rows counter over 2 days of 15 s scrapes (>50,000 rows: a large batch),
    with a gap of 7 minutes on GPU 3 and a restart of the counter."""
    rng = np.random.default_rng(7)
    ts = T0 + np.arange(DAYS * 1440 * 4, dtype=np.int64) * STEP
    parts = []
    for g in range(8):
        keep = ~((g == 3) & (ts >= T0 + 600 * MIN) & (ts < T0 + 607 * MIN))
        value = np.round(rng.uniform(0.2, 1.0, len(ts)), 2)
        n = int(keep.sum())
        parts.append(pl.DataFrame({
            "metric": ["gpu_util"] * n, "labels": [f'gpu="{g}",host="h{g // 4}"'] * n,
            "timestamp": ts[keep], "value": value[keep],
        }, schema=SAMPLE_SCHEMA))
    rows = np.cumsum(rng.poisson(100, len(ts)).astype(np.float64))
    rows[len(ts) // 2 :] -= rows[len(ts) // 2 - 1]
    parts.append(pl.DataFrame({
        "metric": ["rows_total"] * len(ts), "labels": [""] * len(ts), "timestamp": ts, "value": rows,
    }, schema=SAMPLE_SCHEMA))
    return pl.concat(parts)


def _specs() -> list[SLOSpec]:
    specs = [
        {"name": f"band-{agg}-{'host' if by else 'all'}", "objective": 90,
         "sli": {"gpu": {"utilization": "gpu_util", "min": 0.3, "max": 0.9, "aggregate": agg, "by": by}}}
        for agg in ("avg", "max", "min") for by in ([], ["host"])
    ]
    specs.append({"name": "rows", "objective": 95,
                  "sli": {"throughput": {"counter": "rows_total", "min_rate": 380, "per": "1m"}}})
    specs.append({"name": "rows-5m", "objective": 95,
                  "sli": {"throughput": {"counter": "rows_total", "min_rate": 380, "per": "1m", "slice": "5m"}}})
    return [SLOSpec.model_validate(s) for s in specs]


def test_band_and_throughput_cold_start_equals_a_day_then_hourly_batches_then_scrape_ticks() -> None:
    frame = _frame()
    assert frame.height > 50_000
    at = T0 + DAYS * 1440 * MIN - STEP
    cold = SLOEvaluator(_specs())
    cold.ingest(frame)
    stepwise = SLOEvaluator(_specs())
    day1 = T0 + 1440 * MIN
    stepwise.ingest(frame.filter(pl.col("timestamp") < day1))
    last_hours = at - 2 * 60 * MIN
    for hour in range(day1, last_hours, 60 * MIN):
        stepwise.ingest(frame.filter(pl.col("timestamp").is_between(hour, hour + 60 * MIN, closed="left")))
    tail = frame.filter(pl.col("timestamp") >= last_hours)
    for scrape in tail.partition_by("timestamp", maintain_order=True):
        stepwise.ingest(scrape)
    a, b = cold.evaluate(at), stepwise.evaluate(at)
    assert a.to_json() == b.to_json()
    by_name = {o.name: o for o in a.objectives}
    # slices ending at T0 … T0 + 2,879 min (the one ending after `at` is not over): 2,880 for the GPUs;
    # for the counter the slice ending at T0 holds only its first sample, no known increase: 2,879
    assert by_name["band-avg-all"].events == 2880
    assert by_name["rows"].events == 2879
    assert by_name["rows-5m"].events == 575
