from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.ranking import rank_dimensions, rank_objectives
from redline.slo.results import ObjectiveResult, Status
from redline.slo.spec import SLOSpec

MIN = 60_000


def _frame(rows: list[tuple[str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame([(m, "", t, v) for m, t, v in rows], schema=SAMPLE_SCHEMA, orient="row")


_FEW = [("req_total", 0, 0.0), ("err_total", 0, 0.0), ("req_total", MIN, 37.0), ("err_total", MIN, 10.0)]
"""37 requests, 10 of them failed, in the first minute."""


def _spec(min_events: float = 100) -> SLOSpec:
    return SLOSpec.model_validate({
        "name": "api", "objective": 99, "min_events": min_events,
        "sli": {"ratio": {"errors": "err_total", "total": "req_total"}},
    })


def test_a_handful_of_failures_below_min_events_is_low_traffic_not_breached() -> None:
    ev = SLOEvaluator([_spec()])
    ev.ingest(_frame(_FEW))
    (r,) = ev.evaluate(MIN).objectives  # at the last sample: nothing to extrapolate at the end
    assert r.status == "low_traffic"
    assert r.reason == "low traffic: 37 events in the last 30d (fewer than 100): not judged"
    assert r.events == 37.0
    assert r.sli == pytest.approx(27 / 37, rel=1e-12)
    assert r.budget_remaining == pytest.approx(1 - (10 / 37) / 0.01, rel=1e-9)  # still reported
    assert r.burn_rates["1d"] == pytest.approx((10 / 37) / 0.01, rel=1e-9)
    assert r.time_to_breach_seconds == 0.0


def test_low_traffic_that_picks_up_is_judged_once_the_window_holds_min_events() -> None:
    ev = SLOEvaluator([_spec()])
    ev.ingest(_frame(_FEW))
    assert ev.evaluate(2 * MIN).objectives[0].status == "low_traffic"
    ev.ingest(_frame([("req_total", 2 * MIN, 137.0), ("err_total", 2 * MIN, 10.0)]))
    (r,) = ev.evaluate(2 * MIN).objectives
    assert (r.status, r.events) == ("breached", 137.0)
    assert r.reason == "budget overspent: 730% used"


def test_min_events_counts_time_slices_for_freshness() -> None:
    spec = SLOSpec.model_validate({
        "name": "fresh", "objective": 99, "min_events": 10,
        "sli": {"freshness": {"last_success": "pipeline_last_success", "max_age": "5m"}},
    })
    ev = SLOEvaluator([spec])
    ts = np.arange(0, 5 * MIN + 1, MIN, dtype=np.int64)
    ev.ingest(pl.DataFrame(
        {"metric": ["pipeline_last_success"] * 6, "labels": [""] * 6, "timestamp": ts, "value": ts / 1000.0},
        schema=SAMPLE_SCHEMA,
    ))
    (r,) = ev.evaluate(5 * MIN).objectives
    assert (r.status, r.events, r.sli) == ("low_traffic", 6.0, 1.0)
    assert r.reason == "low traffic: 6 time slices in the last 30d (fewer than 10): not judged"


def _result(name: str, status: Status, ttb: float | None, dimension: str = "users") -> ObjectiveResult:
    return ObjectiveResult(
        name=name, kind="availability", dimension=dimension, target=0.99, window="30d", window_seconds=2592000.0,
        value=None if status == "no_data" else 0.99, budget_remaining=None if status == "no_data" else 0.5,
        burn_rates={}, time_to_breach_seconds=ttb, status=status, reason="",
    )


def test_low_traffic_ranks_after_ok_objectives_and_before_no_data() -> None:
    results = [
        _result("a-nodata", "no_data", None),
        _result("b-low", "low_traffic", 60.0),
        _result("c-ok", "ok", None),
        _result("d-breached", "breached", 0.0),
        _result("e-warning", "warning", 3600.0),
    ]
    assert [r.name for r in rank_objectives(results)] == ["d-breached", "e-warning", "c-ok", "b-low", "a-nodata"]


def test_a_dimension_of_only_low_traffic_ranks_after_one_that_is_ok() -> None:
    dims = rank_dimensions([_result("low", "low_traffic", 60.0, "data"), _result("fine", "ok", None, "users")])
    assert [(d.name, d.status) for d in dims] == [
        ("users", "ok"), ("data", "low_traffic"), ("cost", "no_data"), ("model", "no_data")
    ]
