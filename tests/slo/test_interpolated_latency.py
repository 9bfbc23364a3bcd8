from __future__ import annotations

import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.evaluation import Evaluator
from redline.slo.spec import SLOSpec

T0 = 1_700_000_000_000
SHARES = {"0.1": 0.5, "0.25": 0.9, "0.5": 0.97, "+Inf": 1.0}  # cumulative share of requests per bucket


def histogram(minutes: int = 61, per_min: int = 1000) -> pl.DataFrame:
    rows = [
        ("lat_bucket", f'le="{le}"', T0 + m * 60_000, float(round(m * per_min * share)))
        for le, share in SHARES.items()
        for m in range(minutes)
    ]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def latency(threshold: str, interpolate: bool) -> SLOSpec:
    return SLOSpec.model_validate(
        {"name": "lat", "objective": 95, "window": "1h",
         "sli": {"latency": {"histogram": "lat", "threshold": threshold, "interpolate": interpolate}}}
    )


def test_a_threshold_between_bounds_is_interpolated_inside_its_bucket_and_marked_approximate() -> None:
    evaluator = Evaluator([latency("300ms", interpolate=True)])
    evaluator.ingest(histogram())
    (result,) = evaluator.evaluate(T0 + 60 * 60_000).objectives
    # 0.3 s is a fifth of the way from 0.25 (90%) to 0.5 (97%): 90% + 7% / 5 = 91.4%
    assert result.sli == pytest.approx(0.914, rel=1e-9)
    assert result.approximate is True
    assert result.to_json()["approximate"] is True


def test_a_threshold_on_a_bound_is_exact_even_when_interpolation_is_allowed() -> None:
    evaluator = Evaluator([latency("250ms", interpolate=True)])
    evaluator.ingest(histogram())
    (result,) = evaluator.evaluate(T0 + 60 * 60_000).objectives
    assert result.sli == pytest.approx(0.9, rel=1e-9)
    assert result.approximate is False


def test_without_interpolate_a_threshold_between_bounds_is_a_problem_naming_the_bounds() -> None:
    series = histogram().select("metric", "labels").unique()
    (problem,) = Evaluator([latency("300ms", interpolate=False)]).check_series(series)
    assert "nearest bounds: lower 0.25s, upper 0.5s" in problem and "interpolate: true" in problem
    assert Evaluator([latency("300ms", interpolate=True)]).check_series(series) == []
    (past,) = Evaluator([latency("2s", interpolate=True)]).check_series(series)
    assert "above the largest finite bucket bound" in past


def test_buckets_that_are_not_cumulative_give_an_error_naming_them_not_a_share_above_one() -> None:
    frame = histogram().with_columns(  # the 0.25 bucket counts more than +Inf: not cumulative
        pl.when(pl.col("labels") == 'le="0.25"').then(pl.col("value") * 2).otherwise(pl.col("value")).alias("value")
    )
    evaluator = Evaluator([latency("250ms", interpolate=False)])
    evaluator.ingest(frame)
    (result,) = evaluator.evaluate(T0 + 60 * 60_000).objectives
    assert result.sli is None and result.status == "no_data"
    assert result.error is not None and "histogram buckets are not monotonic" in result.error
    assert result.burn_rates["1h"] is None
