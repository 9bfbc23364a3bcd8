from __future__ import annotations

import numpy as np
import polars as pl
import pydantic
import pytest

from redline.slo.calendar import period_bounds
from redline.slo.engine import SLOEvaluator
from redline.slo.ranking import MULTIWINDOW_CONDITIONS
from redline.slo.spec import SLOSpec
from tests.frames import series_frame
from tests.frames import utc_ms as _ms

MIN = 60_000


def _series(metric: str, ts: np.ndarray, values: np.ndarray) -> pl.DataFrame:
    return series_frame(metric, "", ts, values)


def _spec(calendar: dict[str, str] | None = None, **extra: object) -> SLOSpec:
    body: dict[str, object] = {
        "name": "api", "objective": 99, "sli": {"ratio": {"errors": "err_total", "total": "req_total"}}, **extra,
    }
    if calendar is not None:
        body["calendar"] = calendar
    return SLOSpec.model_validate(body)


def _history(start_ms: int, end_ms: int, err_per_min: np.ndarray | float) -> pl.DataFrame:
    """100 requests a minute from ``start_ms`` to ``end_ms`` (every minute), errors per minute as given."""
    ts = np.arange(start_ms, end_ms + 1, MIN, dtype=np.int64)
    steps = np.broadcast_to(np.asarray(err_per_min, dtype=np.float64), ts.shape).copy()
    steps[0] = 0.0
    return pl.concat([
        _series("req_total", ts, 100.0 * np.arange(len(ts))),
        _series("err_total", ts, np.cumsum(steps)),
    ])


def test_a_calendar_window_in_an_unknown_time_zone_is_a_spec_error_naming_it() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"unknown time zone 'Mars/Olympus' \(expected an IANA name"):
        _spec({"period": "month", "timezone": "Mars/Olympus"})


def test_a_month_in_europe_paris_with_the_dst_change_is_31_days_less_an_hour() -> None:
    start, end = period_bounds(_ms(2024, 3, 15), "month", "Europe/Paris")
    assert (start, end) == (_ms(2024, 2, 29, 23), _ms(2024, 3, 31, 22))
    assert end - start == (31 * 86400 - 3600) * 1000


def test_calendar_month_budget_counts_only_the_current_month_and_resets_at_its_start() -> None:
    begin, at = _ms(2024, 2, 25), _ms(2024, 3, 2)
    minutes = (at - begin) // MIN + 1
    idx = np.arange(minutes)
    march = idx * MIN + begin >= _ms(2024, 3, 1) + MIN
    err = np.where(march, 0.1, 0.5)
    err[idx >= minutes - 60] = 20.0  # the last hour burns hard
    ev = SLOEvaluator([_spec({"period": "month"})])
    ev.ingest(_history(begin, at, err))
    (r,) = ev.evaluate(at).objectives
    assert r.window == "month"
    assert r.window_seconds == 31 * 86400.0
    assert r.events == pytest.approx(144_000.0)
    bad = 1380 * 0.1 + 60 * 20.0
    assert r.sli == pytest.approx(1 - bad / 144_000, rel=1e-12)
    assert r.budget_remaining == pytest.approx(1 - bad / 144_000 / 0.01, rel=1e-9)
    assert r.burn_rates["1h"] == pytest.approx(20.0, rel=1e-9)
    assert r.time_to_breach_seconds == pytest.approx((1 - bad / 1440) * 31 * 86400 / 20.0, rel=1e-9)


def test_calendar_time_to_breach_lasting_past_the_period_end_is_none() -> None:
    begin, at = _ms(2024, 2, 25), _ms(2024, 3, 2)
    ev = SLOEvaluator([_spec({"period": "month"})])
    ev.ingest(_history(begin, at, 0.1))
    (r,) = ev.evaluate(at).objectives
    # 0.9 of the budget at 0.1x lasts 279 days: past the 29 days left in March
    assert r.budget_remaining == pytest.approx(0.9, rel=1e-9)
    assert r.burn_rates["1h"] == pytest.approx(0.1, rel=1e-9)
    assert r.time_to_breach_seconds is None
    assert r.status == "ok"


def test_alert_factors_follow_the_period_length_in_its_time_zone() -> None:
    at = _ms(2024, 3, 10)
    ev = SLOEvaluator([_spec({"period": "month", "timezone": "Europe/Paris"})])
    ev.ingest(_history(_ms(2024, 3, 1), at, 0.1))
    (r,) = ev.evaluate(at).objectives
    assert r.window_seconds == 31 * 86400.0 - 3600.0
    page = MULTIWINDOW_CONDITIONS[0]
    assert page.factor(r.window_seconds) == pytest.approx(0.02 * 2_674_800 / 3600)


def test_evaluated_exactly_at_the_period_start_a_calendar_objective_has_no_data() -> None:
    at = _ms(2024, 3, 1)
    ev = SLOEvaluator([_spec({"period": "month"})])
    ev.ingest(_history(_ms(2024, 2, 25), at, 0.5))
    (r,) = ev.evaluate(at).objectives
    assert (r.status, r.sli, r.budget_remaining, r.events) == ("no_data", None, None, 0.0)
    assert r.reason == "no events in this month"
    assert r.burn_rates["1h"] == pytest.approx(0.5, rel=1e-9)  # burn windows stay rolling


def test_a_week_starting_sunday_and_a_quarter_take_their_own_bounds() -> None:
    at = _ms(2024, 3, 6, 12)  # a Wednesday
    week = _spec({"period": "week", "week_start": "sunday"}).model_copy(update={"name": "week"})
    quarter = _spec({"period": "quarter"}).model_copy(update={"name": "quarter"})
    ev = SLOEvaluator([week, quarter])
    ev.ingest(_history(_ms(2024, 2, 25), at, 0.5))
    by_name = {r.name: r for r in ev.evaluate(at).objectives}
    assert by_name["week"].events == pytest.approx(100.0 * (3 * 1440 + 720))  # since Sunday 3 March
    assert by_name["week"].window_seconds == 7 * 86400.0
    assert by_name["quarter"].events == pytest.approx(100.0 * ((at - _ms(2024, 2, 25)) // MIN))
    assert by_name["quarter"].window_seconds == 91 * 86400.0


def test_a_calendar_throughput_objective_counts_the_slices_since_the_period_start() -> None:
    begin, at = _ms(2024, 2, 28), _ms(2024, 3, 1, 6)
    ts = np.arange(begin, at + 1, MIN, dtype=np.int64)
    steps = np.where(ts <= _ms(2024, 2, 29), 0.0, 10.0)  # stalled on 28 February
    sli = {"throughput": {"counter": "rows_total", "min_rate": 5, "per": "1m"}}
    spec = SLOSpec.model_validate({"name": "rows", "objective": 95, "calendar": {"period": "month"}, "sli": sli})
    ev = SLOEvaluator([spec])
    ev.ingest(_series("rows_total", ts, np.cumsum(steps)))
    (r,) = ev.evaluate(at).objectives
    assert (r.events, r.sli, r.window) == (360.0, 1.0, "month")
    (before,) = ev.evaluate(_ms(2024, 2, 29, 12)).objectives
    assert before.events == 2 * 1440 - 720  # slices 00:01 28 Feb to 12:00 29 Feb: the first has no increase
    assert before.sli == pytest.approx(720 / 2160)
    assert before.window_seconds == 29 * 86400.0


def test_a_fixed_calendar_period_counts_only_since_its_start_time_and_is_its_length() -> None:
    # OpenSLO's calendar windows of any length: days from 12:00 UTC. At 18:00 only the six hours
    # since noon count; the morning's heavier errors belong to the day before.
    begin, noon, at = _ms(2024, 3, 1), _ms(2024, 3, 1, 12), _ms(2024, 3, 1, 18)
    ts = np.arange(begin, at + 1, MIN, dtype=np.int64)
    err = np.where(ts >= noon + MIN, 0.1, 0.5)
    ev = SLOEvaluator([_spec({"period": "1d", "start": "2024-01-01T12:00:00"})])
    ev.ingest(_history(begin, at, err))
    (r,) = ev.evaluate(at).objectives
    assert (r.window, r.window_seconds) == ("1d", 86400.0)
    assert r.events == pytest.approx(36_000.0)
    assert r.sli == pytest.approx(1 - 36 / 36_000, rel=1e-12)
    assert r.budget_remaining == pytest.approx(1 - 36 / 36_000 / 0.01, rel=1e-9)


def test_a_start_anchors_only_a_fixed_period_and_a_period_is_a_name_or_a_duration() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"start anchors a fixed-length period \(1d, 2w\); a month "):
        _spec({"period": "month", "start": "2024-01-01T12:00:00"})
    with pytest.raises(pydantic.ValidationError, match=r"period 'fortnight': expected month, week, quarter or a "
                       r"duration such as 1d, 2w, 12h"):
        _spec({"period": "fortnight"})
    with pytest.raises(pydantic.ValidationError, match=r"start 'noon': expected a date and time"):
        _spec({"period": "1d", "start": "noon"})
