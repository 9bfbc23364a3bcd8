"""FOCUS ingestion speed: ``.venv/bin/python -m bench.focus``.

Generates a FOCUS 1.0 export of 2M charge rows (a month of hourly usage over 40 services, 2,000
resources and 6 sub-accounts, with the columns a real export carries: ids, names, descriptions,
tags, all cost columns), as CSV and as Parquet. Each is ingested into daily spend by service with
the ``focus`` collector's own code path (``FocusCollector.collect``: lazy scan of the columns used,
grouping on raw charge periods, spreading, accumulating, building the sample frame) and, as the
baseline in the same run, with ``csv.DictReader`` and a dict of (day, service) sums. The two
answers are compared. Target: at least 1M rows/s.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import polars as pl

from redline.collectors.base import CollectorContext
from redline.collectors.focus import FocusCollector, FocusConfig

ROWS = 2_000_000
TARGET_ROWS_PER_S = 1_000_000
SEP_1_S = 1_725_148_800  # 2024-09-01T00:00:00Z


def make_export(rows: int = ROWS, seed: int = 3) -> pl.DataFrame:
    """A month of hourly FOCUS 1.0 charge rows."""
    rng = np.random.default_rng(seed)
    services = [f"Service {i:02d}" for i in range(40)]
    hour = rng.integers(0, 720, rows)
    resource = rng.integers(0, 2000, rows)
    service = resource % 40
    account = resource % 6
    cost = np.round(rng.gamma(2.0, 0.8, rows), 6)
    iso = np.array(
        [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(SEP_1_S + h * 3600)) for h in range(721)], dtype=object
    )
    teams = ["ml", "data", "web", "platform"]
    tags = np.array([json.dumps({"team": teams[r % 4], "env": "prod" if r % 3 else "dev"}) for r in range(2000)],
                    dtype=object)
    return pl.DataFrame({
        "AvailabilityZone": "us-east-1a",
        "BilledCost": cost,
        "BillingAccountId": "123456789012",
        "BillingAccountName": "acme-payer",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": "2024-10-01T00:00:00Z",
        "BillingPeriodStart": "2024-09-01T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": "On Demand usage of the resource per hour",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": iso[hour + 1],
        "ChargePeriodStart": iso[hour],
        "ConsumedQuantity": 1.0,
        "ConsumedUnit": "Hours",
        "ContractedCost": cost,
        "EffectiveCost": cost,
        "InvoiceIssuerName": "Amazon Web Services, Inc.",
        "ListCost": cost,
        "PricingQuantity": 1.0,
        "PricingUnit": "Hours",
        "ProviderName": "AWS",
        "PublisherName": "Amazon Web Services, Inc.",
        "RegionId": "us-east-1",
        "ResourceId": [f"arn:aws:ec2:us-east-1:1111222233{a:02d}:instance/i-{r:017x}" for r, a in
                       zip(resource.tolist(), account.tolist(), strict=True)],
        "ServiceCategory": "Compute",
        "ServiceName": np.array(services, dtype=object)[service],
        "SubAccountId": [f"1111222233{a:02d}" for a in account.tolist()],
        "Tags": tags[resource],
    }, schema_overrides={"ChargeClass": pl.String})


def baseline(path: Path) -> dict[tuple[str, str], float]:
    """Daily spend by service the straightforward way."""
    sums: dict[tuple[str, str], float] = defaultdict(float)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            sums[(row["ChargePeriodStart"][:10], row["ServiceName"])] += float(row["EffectiveCost"])
    return sums


def collector_daily(path: Path) -> tuple[dict[tuple[str, str], float], float]:
    """Daily spend by service through the collector; returns the per-day amounts and seconds taken."""
    cfg = FocusConfig.model_validate(
        {"name": "bench", "kind": "focus", "path": str(path), "bucket": "1d", "group_by": ["ServiceName"]}
    )
    with httpx.Client() as client:  # unused: a focus source reads files
        collector = FocusCollector(cfg, CollectorContext(clock=time.time, env={}, http=client))
        started = time.perf_counter()
        result = collector.collect()
    elapsed = time.perf_counter() - started
    assert result.health.ok, result.health.error
    frame = result.samples.with_columns(
        service=pl.col("labels").str.extract(r'service="([^"]*)"'),
        day=pl.from_epoch(pl.col("timestamp") - 86_400_000, time_unit="ms").dt.strftime("%Y-%m-%d"),
    ).sort("service", "timestamp")
    frame = frame.with_columns(daily=pl.col("value").diff().over("service")).drop_nulls("daily")
    return {(d, s): v for d, s, v in frame.select("day", "service", "daily").iter_rows()}, elapsed


def _same(a: dict[tuple[str, str], float], b: dict[tuple[str, str], float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-6 * max(1.0, abs(a[k])) for k in a)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="redline-bench-focus-") as tmp:
        started = time.perf_counter()
        export = make_export()
        csv_path, parquet_path = Path(tmp) / "focus.csv", Path(tmp) / "focus.parquet"
        export.write_csv(csv_path)
        export.with_columns(
            pl.col("ChargePeriodStart", "ChargePeriodEnd").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
        ).write_parquet(parquet_path)
        del export
        print(f"generated {ROWS:,} FOCUS rows in {time.perf_counter() - started:.1f} s: "
              f"CSV {csv_path.stat().st_size / 1e6:.0f} MB, Parquet {parquet_path.stat().st_size / 1e6:.0f} MB")

        got_csv, csv_s = collector_daily(csv_path)
        got_pq, pq_s = collector_daily(parquet_path)
        started = time.perf_counter()
        want = baseline(csv_path)
        base_s = time.perf_counter() - started

        print(f"{'daily spend by service':<40} {'seconds':>8} {'rows/s':>12}")
        for label, seconds in (
            ("focus collector, CSV", csv_s),
            ("focus collector, Parquet", pq_s),
            ("baseline csv.DictReader + dict", base_s),
        ):
            print(f"{label:<40} {seconds:>8.2f} {ROWS / seconds:>12,.0f}")
        print(f"target: {TARGET_ROWS_PER_S:,} rows/s; collector CSV is {base_s / csv_s:.1f}x the baseline")
        print(f"same answer as the baseline: CSV {_same(got_csv, want)}, Parquet {_same(got_pq, want)} "
              f"({len(want)} day × service cells)")


if __name__ == "__main__":
    main()
