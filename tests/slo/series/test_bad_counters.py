"""Counters that misbehave: each case gives Prometheus's answer (computed here with the reference
``increase`` on the samples Prometheus would use), and never poisons later windows."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.series.increase import increase
from redline.slo.spec import SLOSpec
from tests.conformance.remote_write import STALE_NAN

MIN = 60_000
STEP = 15_000
T0 = 1_700_000_000_000


def _frame(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def _spec() -> SLOSpec:
    return SLOSpec.model_validate({
        "name": "api", "objective": 99.0,
        "sli": {"ratio": {"errors": 'req_total{code="500"}', "total": "req_total"}},
    })


def _series(labels: str, values: list[float], start: int = T0) -> list[tuple[str, str, int, float]]:
    return [("req_total", labels, start + i * STEP, v) for i, v in enumerate(values)]


def _ratios(rows: list[tuple[str, str, int, float]], at_ms: int) -> dict[str, float | None]:
    ev = SLOEvaluator([_spec()])
    ev.ingest(_frame(rows))
    return ev.error_ratios(at_ms, "api")


def test_a_counter_that_dips_by_a_tiny_amount_is_a_reset_as_in_prometheus() -> None:
    ok = [1000.0, 1100.0, 1200.0, 1199.9, 1300.0, 1400.0]  # 1199.9: a reset, the increase is 1199.9
    errors = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    at = T0 + 5 * STEP
    rows = _series('code="200"', ok) + _series('code="500"', errors)
    times = [T0 + i * STEP for i in range(6)]
    expected_ok = increase(times, ok, at, 5 * MIN)
    expected_errors = increase(times, errors, at, 5 * MIN)
    assert expected_ok is not None and expected_errors is not None
    assert expected_ok > 1199.9  # the dip counted the whole new value
    got = _ratios(rows, at)["5m"]
    assert got == pytest.approx(expected_errors / (expected_ok + expected_errors), rel=1e-12)


def test_labels_that_differ_only_by_an_empty_value_are_one_series() -> None:
    values = [100.0 * i for i in range(9)]
    errors = [float(i) for i in range(9)]
    # the same series written two ways, alternately (as two exporters' renderings would be)
    split = [
        ("req_total", 'code="200",zone=""' if i % 2 else 'code="200"', T0 + i * STEP, v)
        for i, v in enumerate(values)
    ]
    rows = split + _series('code="500"', errors)
    whole = _series('code="200"', values) + _series('code="500"', errors)
    at = T0 + 8 * STEP
    assert _ratios(rows, at) == _ratios(whole, at)
    assert _ratios(rows, at)["5m"] == pytest.approx(8 / 808, rel=1e-12)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, STALE_NAN])
def test_non_finite_samples_are_skipped_and_later_windows_stay_exact(bad: float) -> None:
    ok = [100.0 * i for i in range(60)]
    errors = [float(i) for i in range(60)]
    ok_bad = ok.copy()
    ok_bad[20] = bad
    rows = _series('code="200"', ok_bad) + _series('code="500"', errors)
    clean_times = [T0 + i * STEP for i in range(60) if i != 20]
    clean_ok = [v for i, v in enumerate(ok) if i != 20]
    for at in (T0 + 22 * STEP, T0 + 59 * STEP):  # a window holding the bad sample, one after it
        got = _ratios(rows, at)["5m"]
        expected_ok = increase(clean_times, clean_ok, at, 5 * MIN)
        expected_errors = increase([T0 + i * STEP for i in range(60)], errors, at, 5 * MIN)
        assert expected_ok is not None and expected_errors is not None
        assert got == pytest.approx(expected_errors / (expected_ok + expected_errors), rel=1e-12)


def test_a_series_ended_by_a_staleness_marker_is_extrapolated_as_one_that_stopped() -> None:
    # instance b stops after 10 samples (a staleness marker follows); a keeps going
    a = _series('code="200",instance="a"', [100.0 * i for i in range(30)])
    b = _series('code="200",instance="b"', [50.0 * i for i in range(10)] + [STALE_NAN])
    errors = _series('code="500",instance="a"', [float(i) for i in range(30)])
    at = T0 + 29 * STEP
    got = _ratios(a + b + errors, at)["30m"]
    times = [T0 + i * STEP for i in range(30)]
    inc_a = increase(times, [100.0 * i for i in range(30)], at, 30 * MIN)
    inc_b = increase(times[:10], [50.0 * i for i in range(10)], at, 30 * MIN)
    inc_errors = increase(times, [float(i) for i in range(30)], at, 30 * MIN)
    assert inc_a is not None and inc_b is not None and inc_errors is not None
    assert inc_b == pytest.approx(450 + 50 * 0.5)  # extended by half an interval at its end, not to `at`
    assert got == pytest.approx(inc_errors / (inc_a + inc_b + inc_errors), rel=1e-12)


def test_a_histogram_without_an_inf_bucket_is_named_at_load() -> None:
    spec = SLOSpec.model_validate({
        "name": "lat", "objective": 99.0,
        "sli": {"latency": {"histogram": 'rq_seconds{service="api"}', "threshold": "250ms"}},
    })
    series = pl.DataFrame({
        "metric": ["rq_seconds_bucket"] * 2,
        "labels": ['le="0.1",service="api"', 'le="0.25",service="api"'],
    })
    problems = SLOEvaluator([spec]).check_series(series)
    assert problems == [
        "objective 'lat': histogram rq_seconds_bucket{service=\"api\"} has no le=\"+Inf\" bucket, "
        "so its total count is unknown"
    ]


def test_a_latency_threshold_between_bucket_bounds_is_refused_naming_the_nearest_bounds() -> None:
    spec = SLOSpec.model_validate({
        "name": "lat", "objective": 99.0,
        "sli": {"latency": {"histogram": "rq_seconds", "threshold": "200ms"}},
    })
    series = pl.DataFrame({
        "metric": ["rq_seconds_bucket"] * 3,
        "labels": ['le="0.1"', 'le="0.25"', 'le="+Inf"'],
    })
    (problem,) = SLOEvaluator([spec]).check_series(series)
    assert "nearest bounds: lower 0.1s, upper 0.25s" in problem


def test_an_infinite_sample_does_not_reach_the_cumulative_counts() -> None:
    rows = _series('code="200"', [0.0, 10.0, math.inf, 30.0]) + _series('code="500"', [0.0, 1.0, 2.0, 3.0])
    ev = SLOEvaluator([_spec()])
    ev.ingest(_frame(rows))
    assert np.isfinite(ev._series_counters.tiers.last_value[: ev._series_counters.n]).all()
