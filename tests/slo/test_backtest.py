from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from redline.slo.backtest import Episode, _counter_burns, _engine_burns, _Sides, backtest, compare
from redline.slo.ranking import BurnRateCondition
from redline.slo.spec import AlertingSpec, SLOSpec
from tests.frames import series_frame as _series

MIN = 60_000
A = 4 * 1440  # incident A starts after minute A (4 days of clean history before it)
B = A + 300  # incident B starts after minute B
START, END = (A - 60) * MIN, (A + 600) * MIN




def _history() -> pl.DataFrame:
    """100 requests a minute; 50 errors a minute in minutes (A, A+20] and (B, B+10]."""
    minutes = np.arange(0, A + 701)
    ts = minutes.astype(np.int64) * MIN
    step_err = np.where(((minutes > A) & (minutes <= A + 20)) | ((minutes > B) & (minutes <= B + 10)), 50.0, 0.0)
    step_err[0] = 0.0
    errors = np.cumsum(step_err)
    total = 100.0 * minutes
    return pl.concat([
        _series("requests_total", 'code="200",service="api"', ts, total - errors),
        _series("requests_total", 'code="500",service="api"', ts, errors),
    ])


def _spec(objective: float, name: str = "api-availability") -> SLOSpec:
    return SLOSpec.model_validate({
        "name": name,
        "objective": objective,
        "sli": {"ratio": {"errors": 'requests_total{service="api",code="500"}',
                          "total": 'requests_total{service="api"}'}},
    })


def test_pages_and_tickets_start_and_end_at_the_steps_computed_by_hand() -> None:
    report = backtest([_spec(99.9)], _history(), start_ms=START, end_ms=END, hysteresis=False)
    # page A: 5m ratio k/10 > 1.44% from k=1, 1h ratio k/120 > 1.44% from k=2 → A+2; held by
    # 6h/30m (6× factor) until the 30m window holds no error: A+20+30.
    # ticket: 1d and 3d need k > 8.64 → A+9; the 6h short window keeps B's errors past the end;
    # its peak is the 1d window's burn once it holds both incidents (30 × 50 of 144,000).
    # page B: 6h still holds A's errors (30 × 50 / 36000 > 0.6%) and 30m has one → B+1; ends B+10+30.
    expected = [
        Episode("api-availability", "page", (A + 2) * MIN, (A + 50) * MIN, 60.0, 1 / 6 / 0.001),
        Episode("api-availability", "ticket", (A + 9) * MIN, None, 480.0, 1500 / 144000 / 0.001),
        Episode("api-availability", "page", (B + 1) * MIN, (B + 40) * MIN, 0.0, 500 / 6000 / 0.001),
    ]
    assert [replace(e, peak_burn=0.0) for e in report.episodes] == [replace(e, peak_burn=0.0) for e in expected]
    assert [e.peak_burn for e in report.episodes] == pytest.approx([e.peak_burn for e in expected], rel=1e-9)
    assert [s.to_json() for s in report.summary] == [
        {"slo": "api-availability", "pages": 2, "tickets": 1, "status": "paged"}
    ]


def test_the_resolve_delay_and_inhibition_replay_as_the_live_policy_steps_them() -> None:
    report = backtest([_spec(99.9)], _history(), start_ms=START, end_ms=END)
    # The bare conditions as above; then each page tier keeps firing one short window after it last
    # held: 6h/30m last holds at A+49 and B+39, so the pages end at A+79 and B+69. The ticket tier
    # fires from A+9, inhibited while page A is open; it opens when page A ends and stays open
    # (page B does not close it), 78 minutes after the 1 h burn rose above 1× (A+1).
    assert [(e.severity, e.start_ms, e.end_ms, e.detection_delay_s) for e in report.episodes] == [
        ("page", (A + 2) * MIN, (A + 79) * MIN, 60.0),
        ("ticket", (A + 79) * MIN, None, 4680.0),
        ("page", (B + 1) * MIN, (B + 69) * MIN, 0.0),
    ]


def test_for_delays_each_page_by_its_duration() -> None:
    tiers = [{"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4, "for": "10m"}]
    spec = _spec(99.9).model_copy(update={"alerting": AlertingSpec.model_validate({"tiers": tiers})})
    report = backtest([spec], _history(), start_ms=START, end_ms=END)
    # 1h/5m holds from A+2 (k/120 > 1.44%) and from B+2 (50k/6000 > 1.44%): with for: 10m the
    # pages fire at A+12 and B+12; the default ticket tiers are still replayed (inhibited meanwhile).
    pages = [e.start_ms / MIN - A for e in report.episodes if e.severity == "page"]
    assert pages == [12.0, 312.0]


def test_a_relaxed_objective_pages_less() -> None:
    result = compare([_spec(99.9)], [_spec(99.0)], _history(), start_ms=START, end_ms=END, hysteresis=False)
    relaxed = [e for e in result.b.episodes if e.severity == "page"]
    # at 99%: 1h needs k > 17.28 (A+18) and 5m k > 1.44; 5m drops below 2 error-minutes at A+24;
    # no ticket: the 1d window never exceeds 3% (1,500 of 144,000)
    assert [(e.start_ms, e.end_ms) for e in relaxed] == [((A + 18) * MIN, (A + 24) * MIN)]
    summary = result.to_json()["summary"]
    assert summary == [{
        "slo": "api-availability",
        "current": {"slo": "api-availability", "pages": 2, "tickets": 1, "status": "paged"},
        "alternative": {"slo": "api-availability", "pages": 1, "tickets": 0, "status": "paged"},
    }]
    assert "api-availability" in result.to_text()


def test_vectorised_burn_rates_equal_the_engine_replayed_step_by_step() -> None:
    frame = _history()
    steps = np.arange(START, START + 400 * MIN, 7 * MIN, dtype=np.int64)
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    spec = _spec(99.9)
    fast = _counter_burns(spec, _Sides(frame, {"requests_total"}), steps, windows)
    (live,) = _engine_burns([spec], frame, steps, windows)
    assert (fast.has_data == live.has_data).all()
    for w in windows:
        np.testing.assert_allclose(fast.rates[w], live.rates[w], rtol=1e-6, atol=1e-9)


def test_latency_objectives_replay_from_buckets() -> None:
    minutes = np.arange(0, A + 701)
    ts = minutes.astype(np.int64) * MIN
    slow = np.where((minutes > A) & (minutes <= A + 20), 50.0, 0.0)
    slow[0] = 0.0
    frame = pl.concat([
        _series("rq_seconds_bucket", 'le="0.25"', ts, np.cumsum(np.where(minutes > 0, 100.0, 0.0) - slow)),
        _series("rq_seconds_bucket", 'le="+Inf"', ts, 100.0 * minutes),
    ])
    spec = SLOSpec.model_validate(
        {"name": "lat", "objective": 99.9, "sli": {"latency": {"histogram": "rq_seconds", "threshold": "250ms"}}}
    )
    report = backtest([spec], frame, start_ms=START, end_ms=END, hysteresis=False)
    pages = [(e.start_ms, e.end_ms) for e in report.episodes if e.severity == "page"]
    assert pages == [((A + 2) * MIN, (A + 50) * MIN)]


def test_freshness_objectives_replay_through_the_engine() -> None:
    minutes = np.arange(A - 1440, A + 121)
    ts = minutes.astype(np.int64) * MIN
    last_success = np.minimum(minutes, A) * 60.0  # succeeds every minute, then stalls after minute A
    frame = _series("last_success_seconds", "", ts, last_success)
    spec = SLOSpec.model_validate({
        "name": "fresh", "objective": 99.0, "window": "1d",
        "sli": {"freshness": {"last_success": "last_success_seconds", "max_age": "5m"}},
    })
    report = backtest([spec], frame, start_ms=(A - 30) * MIN, end_ms=(A + 120) * MIN)
    page = next(e for e in report.episodes if e.severity == "page")
    # slices ending after A+5 are stale; a 1d window takes the short periods' tiers (8% of the
    # budget in 1h: factor 0.08 × 24 = 1.92), i.e. more than 1.92% of 1h's slices bad: the first
    # stale slice (A+6) makes 1 of 60 (1.67%), the second (A+7) 2 of 60, one minute after the 5m burn rose
    assert (page.start_ms, page.end_ms, page.detection_delay_s) == ((A + 7) * MIN, None, 60.0)
    assert report.summary[0].status == "paged"


def test_an_objective_whose_series_are_absent_is_no_data_without_episodes() -> None:
    missing = _spec(99.9, name="ghost").model_copy(update={"sli": _spec(99.9).sli.model_copy(update={
        "ratio": _spec(99.9).sli.ratio.model_copy(update={"total": _spec(99.9).sli.ratio.total.with_metric("nope")})  # type: ignore[union-attr]
    })})
    report = backtest([missing], _history(), start_ms=START, end_ms=END)
    assert report.episodes == ()
    assert report.summary[0].status == "no_data"


def test_a_store_with_nothing_in_range_is_no_data_not_an_error() -> None:
    report = backtest([_spec(99.9)], _history().clear(), start_ms=START, end_ms=END)
    assert report.episodes == ()
    assert [s.status for s in report.summary] == ["no_data"]


def test_bad_ranges_and_steps_are_errors() -> None:
    with pytest.raises(ValueError, match="step must be positive"):
        backtest([_spec(99.9)], _history(), start_ms=START, end_ms=END, step_ms=0)
    with pytest.raises(ValueError, match="empty range"):
        backtest([_spec(99.9)], _history(), start_ms=END, end_ms=START)
    with pytest.raises(ValueError, match="'4h' is not one of the burn-rate windows"):
        backtest([_spec(99.9)], _history(), start_ms=START, end_ms=END,
                 policy=[BurnRateCondition("page", "4h", "20m", 0.05)])


def test_a_custom_policy_with_equal_duration_window_names() -> None:
    report = backtest([_spec(99.9)], _history(), start_ms=START, end_ms=END,
                      policy=[BurnRateCondition("page", "60m", "5m", 0.02)])
    assert [(e.start_ms, e.end_ms) for e in report.episodes] == [
        ((A + 2) * MIN, (A + 25) * MIN), ((B + 2) * MIN, (B + 15) * MIN),
    ]
    text = report.to_text()
    assert "page" in text and "SLO" in text
    assert report.to_json()["episodes"][0]["start"] == (A + 2) * 60.0


def test_a_low_traffic_floor_replays_like_live_alerts_and_never_pages() -> None:
    floored = _spec(99.9).model_copy(update={"min_events": 1e12})  # more requests than the history holds
    report = backtest([floored], _history(), start_ms=START, end_ms=END)
    assert report.episodes == ()
    normal = backtest([_spec(99.9)], _history(), start_ms=START, end_ms=END)
    assert len(normal.episodes) == 3


def test_replay_sums_each_series_increase_like_the_engine_with_phases_and_a_sparse_series() -> None:
    """Two instances scraped every 60 s and every 15 s (7 s phase), a 5xx series seen for 10
    minutes: the vectorised replay and the engine agree exactly up to 6 h, closely beyond."""
    day = 1440 * MIN
    a_ts = np.arange(0, 2 * day + 1, MIN, dtype=np.int64)
    b_ts = np.arange(7_000, 2 * day + 1, 15_000, dtype=np.int64)
    sparse = b_ts[(b_ts > 40 * 60 * MIN) & (b_ts <= 40 * 60 * MIN + 10 * MIN)]
    rng = np.random.default_rng(4)
    frame = pl.concat([
        _series("requests_total", 'code="200",instance="a",service="api"', a_ts,
                np.cumsum(rng.integers(50, 150, len(a_ts))).astype(np.float64)),
        _series("requests_total", 'code="200",instance="b",service="api"', b_ts,
                np.cumsum(rng.integers(10, 40, len(b_ts))).astype(np.float64)),
        _series("requests_total", 'code="500",instance="b",service="api"', sparse,
                3.0 + np.cumsum(rng.integers(5, 20, len(sparse))).astype(np.float64)),
    ])
    steps = np.arange(40 * 60 * MIN - 20 * MIN, 2 * day, 13 * MIN + 17_000, dtype=np.int64)
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    spec = _spec(99.9)
    fast = _counter_burns(spec, _Sides(frame, {"requests_total"}), steps, windows)
    (live,) = _engine_burns([spec], frame, steps, windows)
    assert (fast.has_data == live.has_data).all()
    for w in windows:
        np.testing.assert_allclose(fast.rates[w], live.rates[w], rtol=1e-9 if w not in ("1d", "3d") else 5e-3)
    assert np.nanmax(fast.rates["1h"]) > 14.4  # the sparse series pages
