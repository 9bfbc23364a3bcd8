from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import SLOSpec
from tests.frames import series_frame as _series

MIN = 60_000
DAY_MIN = 1440


def _frame(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")




def _availability_history() -> tuple[pl.DataFrame, int]:
    """Two days of 1-minute scrapes: 100 req/min, 0.5 errors/min, then 20 errors/min in the last hour."""
    minutes = np.arange(0, 2 * DAY_MIN + 1)
    ts = minutes.astype(np.int64) * MIN
    total = 1000.0 + 100.0 * minutes
    err_step = np.where(minutes > 2 * DAY_MIN - 60, 20.0, 0.5)
    err_step[0] = 0.0
    errors = 10.0 + np.cumsum(err_step)
    frame = pl.concat(
        [
            _series("http_requests_total", 'code="200",service="api"', ts, total - errors),
            _series("http_requests_total", 'code="500",service="api"', ts, errors),
            _series("unrelated_total", "", ts, total),
        ]
    )
    return frame.sample(fraction=1.0, shuffle=True, seed=7), int(ts[-1])


def _availability_spec() -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": "api-availability",
            "objective": 99,
            "sli": {
                "ratio": {
                    "errors": 'http_requests_total{service="api",code=~"5.."}',
                    "total": 'http_requests_total{service="api"}',
                }
            },
        }
    )


def test_burn_rates_budget_and_time_to_breach_are_exact_for_constructed_counters() -> None:
    frame, end = _availability_history()
    ev = SLOEvaluator([_availability_spec()])
    ev.ingest(frame)
    report = ev.evaluate(end)
    (obj,) = report.objectives
    expected = {
        "5m": 20.0, "30m": 20.0, "1h": 20.0,
        "2h": (60 * 0.5 + 1200) / 12000 / 0.01,
        "6h": (300 * 0.5 + 1200) / 36000 / 0.01,
        "1d": (1380 * 0.5 + 1200) / 144000 / 0.01,
        "3d": (2820 * 0.5 + 1200) / 288000 / 0.01,
    }
    assert obj.burn_rates == pytest.approx(expected, rel=1e-9)
    assert obj.sli == pytest.approx(1 - 2610 / 288000, rel=1e-12)
    assert obj.budget_remaining == pytest.approx(1 - 0.90625, rel=1e-9)
    assert obj.time_to_breach_seconds == pytest.approx(0.09375 * 30 * 86400 / 20, rel=1e-9)
    # the 30-day window starts before the series' first samples: Prometheus extends each series
    # by half its interval (30 s of its 2 days) there, as sum(increase(x[30d])) does
    assert obj.events == pytest.approx(288000.0 * (2 * 86400 + 30) / (2 * 86400), rel=1e-12)
    assert obj.status == "warning"
    assert obj.reason == (
        "burning 20.0× budget over 1h (page at 14.4×); 9% of budget left, gone in 3h 22m at this rate"
    )


def test_incremental_ingest_gives_the_same_results_as_a_cold_start() -> None:
    frame, end = _availability_history()
    cold = SLOEvaluator([_availability_spec()])
    cold.ingest(frame)
    warm = SLOEvaluator([_availability_spec()])
    ordered = frame.sort("timestamp")
    # six-hour batches, then one scrape per tick for the last two hours
    head = ordered.filter(pl.col("timestamp") <= end - 120 * MIN)
    batch = head.with_columns((pl.col("timestamp") // (360 * MIN)).alias("batch"))
    for chunk in batch.partition_by("batch", maintain_order=True):
        warm.ingest(chunk.drop("batch"))
    tail = ordered.filter(pl.col("timestamp") > end - 120 * MIN)
    for chunk in tail.partition_by("timestamp", maintain_order=True):
        warm.ingest(chunk)
    warm.ingest(ordered.head(500))  # already ingested: ignored
    for at in (end, end - 90 * MIN, end - DAY_MIN * MIN):
        assert warm.evaluate(at).to_json() == cold.evaluate(at).to_json()


def test_evaluating_in_the_past_ignores_later_data() -> None:
    frame, end = _availability_history()
    full = SLOEvaluator([_availability_spec()])
    full.ingest(frame)
    for at in (end - 30 * MIN, end - DAY_MIN * MIN + 7 * MIN):
        past = SLOEvaluator([_availability_spec()])
        past.ingest(frame.filter(pl.col("timestamp") <= at))
        assert full.evaluate(at).to_json() == past.evaluate(at).to_json()
    quiet = full.evaluate(end - 2 * 60 * MIN).objectives[0]
    assert quiet.burn_rates["1h"] == pytest.approx(0.005 / 0.01, rel=1e-12)


def test_a_counter_reset_counts_the_new_value_as_increase() -> None:
    ts = np.arange(0, 11, dtype=np.int64) * MIN
    total = np.array([100, 200, 300, 400, 500, 50, 150, 250, 350, 450, 550], dtype=np.float64)
    errors = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5], dtype=np.float64)
    frame = pl.concat(
        [
            _series("http_requests_total", 'code="200",service="api"', ts, total - errors),
            _series("http_requests_total", 'code="500",service="api"', ts, errors),
        ]
    )
    ev = SLOEvaluator([_availability_spec()])
    ev.ingest(frame)
    ratios = ev.error_ratios(10 * MIN, "api-availability")
    # raw increases: errors 4 + 5 = 9 (zero-start: first value 0, no extrapolation); code 200
    # 396 + 50 + 495 = 941 over 600 s, its zero point 600 × 100 / 941 = 63.8 s before its first
    # sample, within 1.1 × 60 s of it: Prometheus 2.42 extends it by those 63.8 s
    ok = 941 * (600 + 600 * 100 / 941) / 600
    assert ratios["slo"] == pytest.approx(9 / (9 + ok), rel=1e-12)
    assert ratios["5m"] == pytest.approx(5 / 500, rel=1e-12)


def test_an_objective_without_events_is_no_data_never_100_percent() -> None:
    ev = SLOEvaluator([_availability_spec()])
    (obj,) = ev.evaluate(10 * MIN).objectives
    assert (obj.status, obj.sli, obj.budget_remaining, obj.reason) == (
        "no_data", None, None, "no events in the last 30d",
    )
    assert all(v is None for v in obj.burn_rates.values())
    flat = _frame(
        [("http_requests_total", 'code="200",service="api"', t * MIN, 5.0) for t in range(10)]
    )
    ev.ingest(flat)
    assert ev.evaluate(9 * MIN).objectives[0].status == "no_data"


def _latency_spec(threshold: str) -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": "api-latency",
            "objective": 99,
            "window": "1d",
            "sli": {"latency": {"histogram": 'rq_seconds{service="api"}', "threshold": threshold}},
        }
    )


def _histogram(bounds: tuple[str, ...], per_minute: tuple[float, ...], minutes: int) -> pl.DataFrame:
    ts = np.arange(0, minutes + 1, dtype=np.int64) * MIN
    parts = [
        _series("rq_seconds_bucket", f'le="{le}",service="api"', ts, step * np.arange(0, minutes + 1.0))
        for le, step in zip(bounds, per_minute, strict=True)
    ]
    return pl.concat(parts)


def test_latency_matches_the_bucket_bound_by_value_and_uses_inf_as_total() -> None:
    ev = SLOEvaluator([_latency_spec("250ms")])
    ev.ingest(_histogram(("0.1", "0.250", "+Inf"), (50.0, 97.0, 100.0), 120))
    (obj,) = ev.evaluate(120 * MIN).objectives
    assert obj.sli == pytest.approx(0.97, rel=1e-12)
    assert obj.burn_rates["1h"] == pytest.approx(3.0, rel=1e-9)
    assert obj.burn_rates["3d"] == pytest.approx(3.0, rel=1e-9)
    assert obj.budget_remaining == pytest.approx(-2.0, rel=1e-9)
    assert obj.status == "breached"
    assert obj.reason == "budget overspent: 300% used"
    assert obj.time_to_breach_seconds == 0.0


def test_check_series_names_the_nearest_bounds_of_a_threshold_that_is_not_a_bucket_bound() -> None:
    ev = SLOEvaluator([_latency_spec("300ms")])
    series = _histogram(("0.1", "0.250", "0.5", "+Inf"), (1.0, 1.0, 1.0, 1.0), 1).select("metric", "labels")
    assert ev.check_series(series) == [
        "objective 'api-latency': latency threshold 300ms (0.3s) is not a bucket bound of "
        'rq_seconds_bucket{service="api"}; nearest bounds: lower 0.25s, upper 0.5s '
        "(or set interpolate: true to interpolate inside the bucket, marked approximate)"
    ]
    ok = SLOEvaluator([_latency_spec("250ms")])
    no_inf = _histogram(("0.1", "0.25"), (1.0, 1.0), 1).select("metric", "labels")
    assert ok.check_series(no_inf) == [
        "objective 'api-latency': histogram rq_seconds_bucket{service=\"api\"} has no le=\"+Inf\" "
        "bucket, so its total count is unknown"
    ]
    assert ok.check_series(series) == []


def test_selectors_read_histograms_as_bucket_series_once() -> None:
    ev = SLOEvaluator([_latency_spec("250ms"), _availability_spec()])
    assert [str(s) for s in ev.selectors()] == [
        'rq_seconds_bucket{service="api"}',
        'http_requests_total{service="api"}',
        'http_requests_total{service="api",code=~"5.."}',
    ]


def _freshness_spec() -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": "features-fresh",
            "objective": 99,
            "sli": {
                "freshness": {"last_success": "pipeline_last_success_timestamp_seconds", "max_age": "15m"}
            },
        }
    )


def _freshness_history() -> pl.DataFrame:
    # a sample every minute at :30; the pipeline succeeds every 10 min, then stalls at 2 h
    t_s = np.arange(30, 3 * 3600, 60)
    last_ok = np.where(t_s < 7200, 600 * (t_s // 600), 6600).astype(np.float64)
    stale = _series("pipeline_last_success_timestamp_seconds", 'job="a"', t_s * 1000, last_ok)
    fresh = _series("pipeline_last_success_timestamp_seconds", 'job="b"', t_s * 1000, t_s.astype(np.float64))
    return pl.concat([stale, fresh])


def test_freshness_counts_good_slices_by_the_oldest_series_age() -> None:
    ev = SLOEvaluator([_freshness_spec()])
    ev.ingest(_freshness_history())
    (obj,) = ev.evaluate(3 * 3600 * 1000).objectives
    # slices end at 60 s … 10800 s (180); good while age = end − 6600 s ≤ 900 s, i.e. up to 7500 s
    assert obj.events == 180
    assert obj.sli == pytest.approx(125 / 180, rel=1e-12)
    assert obj.burn_rates["1h"] == pytest.approx(55 / 60 / 0.01, rel=1e-12)
    assert obj.burn_rates["5m"] == pytest.approx(100.0, rel=1e-12)
    assert obj.status == "breached"
    # ten minutes later without new data: ten more slices, all stale
    later = ev.evaluate((3 * 3600 + 600) * 1000).objectives[0]
    assert later.events == 190
    assert later.sli == pytest.approx(125 / 190, rel=1e-12)


def test_freshness_slices_before_the_first_sample_do_not_count() -> None:
    ev = SLOEvaluator([_freshness_spec()])
    ev.ingest(_frame([("pipeline_last_success_timestamp_seconds", "", 3_630_000, 3600.0)]))
    (obj,) = ev.evaluate(3_900_000).objectives
    assert (obj.events, obj.sli) == (5, 1.0)
    assert math.isclose(obj.budget_remaining or 0.0, 1.0)


def test_ingest_rejects_a_frame_without_the_sample_columns() -> None:
    ev = SLOEvaluator([_availability_spec()])
    with pytest.raises(ValueError, match="no column 'timestamp'"):
        ev.ingest(pl.DataFrame({"metric": ["x"], "labels": [""], "value": [1.0]}))
