from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import parse_selector
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import SLOSpec
from redline.slo.whatif import bucket_bounds, interpolated_bucket, whatif

MIN = 60_000
BOUNDS = ("0.1", "0.25", "0.5", "+Inf")
AT = 120 * MIN


def _series(metric: str, labels: str, ts: np.ndarray, values: np.ndarray) -> pl.DataFrame:
    n = len(ts)
    return pl.DataFrame(
        {"metric": [metric] * n, "labels": [labels] * n, "timestamp": ts, "value": values},
        schema=SAMPLE_SCHEMA,
    )


def _histogram(per_minute: tuple[float, ...] = (60.0, 90.0, 99.0, 100.0), reset_at: int | None = None) -> pl.DataFrame:
    """Two hours of 1-minute scrapes of ``rq_seconds`` (cumulative buckets), optionally restarted."""
    minutes = np.arange(0, 121)
    ts = minutes.astype(np.int64) * MIN
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 5, size=len(minutes)).astype(np.float64)
    parts = []
    for le, rate in zip(BOUNDS, per_minute, strict=True):
        cum = np.cumsum(np.full(len(minutes), rate) + (noise if reset_at is not None else 0.0))
        if reset_at is not None:
            cum[reset_at:] -= cum[reset_at - 1]
        parts.append(_series("rq_seconds_bucket", f'le="{le}",service="api"', ts, cum))
    return pl.concat(parts)


def _spec(threshold: str = "250ms", objective: float = 99.0, name: str = "api-latency") -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": name,
            "objective": objective,
            "window": "1h",
            "sli": {"latency": {"histogram": 'rq_seconds{service="api"}', "threshold": threshold}},
        }
    )


def test_alternative_objective_changes_budget_but_not_compliance() -> None:
    result = whatif(_spec(objective=95.0), _histogram(), AT, objective=80.0)
    # 90 of 100 requests per minute are under 250 ms
    assert result.current.sli == pytest.approx(0.9, rel=1e-12)
    assert result.alternative.sli == pytest.approx(0.9, rel=1e-12)
    assert result.current.budget_remaining == pytest.approx(1 - 0.1 / 0.05, rel=1e-12)
    assert result.current.status == "breached"
    assert result.alternative.budget_remaining == pytest.approx(0.5, rel=1e-12)
    assert result.alternative.name == "api-latency"
    assert result.alternative.objective == pytest.approx(0.8)
    assert result.alternative.burn_rates["1h"] == pytest.approx(0.5, rel=1e-12)
    assert not result.approximate


def test_alternative_threshold_at_a_bound_is_exact() -> None:
    result = whatif(_spec(), _histogram(), AT, threshold_s=0.5)
    assert result.alternative.sli == pytest.approx(0.99, rel=1e-12)
    assert result.current.sli == pytest.approx(0.9, rel=1e-12)
    assert result.approximate is False


def test_threshold_halfway_between_bounds_gives_the_midpoint_compliance_marked_approximate() -> None:
    result = whatif(_spec(), _histogram(), AT, threshold_s=0.175)
    assert result.alternative.sli == pytest.approx(0.75, rel=1e-12)  # (0.6 + 0.9) / 2
    assert result.approximate is True
    assert result.to_json()["approximate"] is True


def test_threshold_below_the_first_bound_interpolates_from_zero() -> None:
    result = whatif(_spec(), _histogram(), AT, threshold_s=0.05)
    assert result.alternative.sli == pytest.approx(0.3, rel=1e-12)  # half of the first bucket's 0.6


def test_configured_threshold_between_bounds_is_interpolated_too() -> None:
    result = whatif(_spec(threshold="400ms"), _histogram(), AT)
    # 0.9 + (0.99 - 0.9) × (0.4 - 0.25) / (0.5 - 0.25)
    assert result.current.sli == pytest.approx(0.954, rel=1e-12)
    assert result.current_approximate is True
    assert result.to_json()["current"]["approximate"] is True


def test_interpolation_is_linear_in_every_window_with_noise_and_a_counter_reset() -> None:
    frame = _histogram(per_minute=(40.0, 70.0, 95.0, 100.0), reset_at=100)
    lo = whatif(_spec(), frame, AT, threshold_s=0.1).alternative
    hi = whatif(_spec(), frame, AT, threshold_s=0.25).alternative
    mid = whatif(_spec(), frame, AT, threshold_s=0.13).alternative
    f = (0.13 - 0.1) / (0.25 - 0.1)
    assert lo.sli is not None and hi.sli is not None
    assert mid.sli == pytest.approx(lo.sli + (hi.sli - lo.sli) * f, rel=1e-12)
    for w in ("5m", "30m", "1h"):
        b_lo, b_hi, b_mid = lo.burn_rates[w], hi.burn_rates[w], mid.burn_rates[w]
        assert b_lo is not None and b_hi is not None
        assert b_mid == pytest.approx(b_lo + (b_hi - b_lo) * f, rel=1e-9)


def test_curve_has_every_finite_bound_is_monotonic_and_equals_the_engine_sli_at_each_bound() -> None:
    frame = _histogram(per_minute=(40.0, 70.0, 95.0, 100.0), reset_at=100)
    result = whatif(_spec(), frame, AT, threshold_s=0.3)
    assert [p.threshold_s for p in result.curve] == [0.1, 0.25, 0.5]
    slis = [p.sli for p in result.curve]
    assert all(s is not None for s in slis)
    assert slis == sorted(slis)  # type: ignore[type-var]
    for point in result.curve:
        own = SLOEvaluator([_spec(threshold=f"{point.threshold_s * 1000:g}ms")])
        own.ingest(frame)
        assert point.sli == own.evaluate(AT).objectives[0].sli


def test_json_is_the_alternative_status_item_with_curve_and_current() -> None:
    result = whatif(_spec(), _histogram(), AT, threshold_s=0.5, objective=99.5)
    out = result.to_json()
    expected = result.alternative.to_json()
    assert {k: out[k] for k in expected} == expected
    assert out["name"] == "api-latency"
    assert out["objective"] == pytest.approx(0.995)
    assert out["curve"][0] == {"threshold_seconds": 0.1, "sli": pytest.approx(0.6, rel=1e-12)}
    assert out["current"]["sli"] == pytest.approx(0.9, rel=1e-12)


def test_threshold_above_the_largest_finite_bound_is_an_error_naming_the_bounds() -> None:
    with pytest.raises(ValueError, match=r"bounds: 0\.1s, 0\.25s, 0\.5s, \+Inf"):
        whatif(_spec(), _histogram(), AT, threshold_s=0.75)


def test_threshold_on_a_ratio_objective_is_an_error_naming_the_kind() -> None:
    spec = SLOSpec.model_validate(
        {"name": "avail", "objective": 99, "sli": {"ratio": {"errors": "e_total", "total": "t_total"}}}
    )
    with pytest.raises(ValueError, match="kind 'availability'"):
        whatif(spec, _histogram(), AT, threshold_s=0.25)


def test_objective_outside_0_100_is_an_error() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 100"):
        whatif(_spec(), _histogram(), AT, objective=100.0)


def test_absent_histogram_gives_no_data_and_an_empty_curve() -> None:
    result = whatif(_spec(), _histogram().with_columns(pl.lit("other_bucket").alias("metric")), AT, threshold_s=0.3)
    assert result.current.status == "no_data"
    assert result.alternative.status == "no_data"
    assert result.curve == ()
    assert result.approximate is False


def test_bucket_bounds_and_interpolated_rows() -> None:
    frame = _histogram()
    hist = parse_selector('rq_seconds{service="api"}')
    assert bucket_bounds(hist, frame) == [0.1, 0.25, 0.5, float("inf")]
    rows = interpolated_bucket(hist, 0.175, frame)
    assert rows.height == 121
    assert rows.row(1) == ("rq_seconds_bucket", 'le="0.175",service="api"', MIN, 150.0)
    assert interpolated_bucket(hist, 0.25, frame).height == 0
