from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from redline.slo.calendar import maintenance_intervals
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import MaintenanceWindow, SLOSpec
from tests.frames import series_frame
from tests.frames import utc_ms as _ms

MIN = 60_000
HOUR = 60 * MIN


def _series(metric: str, ts: np.ndarray, values: np.ndarray) -> pl.DataFrame:
    return series_frame(metric, "", ts, values)


def _window(**kw: str) -> MaintenanceWindow:
    return MaintenanceWindow.model_validate(kw)


def test_a_recurring_daily_window_wrapping_midnight_runs_into_the_next_day() -> None:
    found = maintenance_intervals([_window(day="daily", start="23:00", end="01:00")], _ms(2024, 5, 1), _ms(2024, 5, 3))
    assert found == [
        (_ms(2024, 5, 1), _ms(2024, 5, 1, 1)),  # the night before, clipped to the range
        (_ms(2024, 5, 1, 23), _ms(2024, 5, 2, 1)),
        (_ms(2024, 5, 2, 23), _ms(2024, 5, 3)),
    ]


def test_sundays_in_europe_paris_follow_the_local_clock_across_the_dst_change() -> None:
    w = _window(day="sunday", start="02:00", end="04:00", timezone="Europe/Paris")
    found = maintenance_intervals([w], _ms(2024, 3, 20), _ms(2024, 4, 3))
    # 24 March: 02:00-04:00 CET is 01:00-03:00 UTC; 31 March (the change): 02:00 does not exist,
    # it is read as 03:00 CEST (01:00 UTC), until 04:00 CEST (02:00 UTC)
    assert found == [(_ms(2024, 3, 24, 1), _ms(2024, 3, 24, 3)), (_ms(2024, 3, 31, 1), _ms(2024, 3, 31, 2))]


def test_one_off_windows_are_utc_unless_zoned_and_overlaps_merge() -> None:
    windows = [
        _window(start="2024-05-01T10:00:00", end="2024-05-01T11:00:00"),
        _window(start="2024-05-01T12:30:00+02:00", end="2024-05-01T12:00:00Z"),
    ]
    assert maintenance_intervals(windows, _ms(2024, 5, 1), _ms(2024, 5, 2)) == [
        (_ms(2024, 5, 1, 10), _ms(2024, 5, 1, 12))
    ]


def _counters(start: int, end: int, spike: tuple[int, int]) -> pl.DataFrame:
    """100 requests and 0.5 errors a minute, 50 errors a minute from ``spike[0]`` to ``spike[1]``."""
    ts = np.arange(start, end + 1, MIN, dtype=np.int64)
    steps = np.where((ts > spike[0]) & (ts <= spike[1]), 50.0, 0.5)
    steps[0] = 0.0
    return pl.concat([
        _series("req_total", ts, 100.0 * np.arange(len(ts))),
        _series("err_total", ts, np.cumsum(steps)),
    ])


def _ratio_spec(**extra: object) -> SLOSpec:
    return SLOSpec.model_validate(
        {"name": "api", "objective": 99, "sli": {"ratio": {"errors": "err_total", "total": "req_total"}}, **extra}
    )


def test_errors_inside_a_maintenance_window_count_neither_good_nor_bad() -> None:
    begin, at = _ms(2024, 5, 1), _ms(2024, 5, 2, 10, 30)
    spike = (_ms(2024, 5, 2, 10), _ms(2024, 5, 2, 11))
    spec = _ratio_spec(maintenance=[{"start": "2024-05-02T10:00:00Z", "end": "2024-05-02T11:00:00Z"}])
    ev = SLOEvaluator([spec, _ratio_spec().model_copy(update={"name": "plain"})])
    ev.ingest(_counters(begin, at, spike))
    by_name = {r.name: r for r in ev.evaluate(at).objectives}
    r = by_name["api"]
    minutes = (at - begin) // MIN
    assert r.events == pytest.approx(100.0 * (minutes - 30))
    assert r.sli == pytest.approx(0.995, rel=1e-12)
    assert r.budget_remaining == pytest.approx(0.5, rel=1e-9)
    assert r.burn_rates["5m"] is None and r.burn_rates["30m"] is None  # all maintenance
    assert r.burn_rates["1h"] == pytest.approx(0.5, rel=1e-9)  # 30 minutes outside it
    assert r.burn_rates["1d"] == pytest.approx(0.5, rel=1e-9)
    assert r.status == "ok"
    plain = by_name["plain"]
    assert plain.burn_rates["1h"] == pytest.approx((15 + 1500) / 6000 / 0.01, rel=1e-9)
    assert plain.events == pytest.approx(100.0 * minutes)


def test_a_maintenance_window_covering_the_whole_period_gives_no_data_not_100_percent() -> None:
    at = _ms(2024, 3, 15)
    spec = _ratio_spec(
        calendar={"period": "month"},
        maintenance=[{"start": "2024-02-28T00:00:00Z", "end": "2024-04-02T00:00:00Z"}],
    )
    ev = SLOEvaluator([spec])
    ev.ingest(_counters(_ms(2024, 3, 1), at, (0, 0)))
    (r,) = ev.evaluate(at).objectives
    assert (r.status, r.sli, r.budget_remaining, r.events) == ("no_data", None, None, 0.0)
    assert all(v is None for v in r.burn_rates.values())


def test_throughput_slices_overlapping_a_midnight_window_are_dropped() -> None:
    begin = _ms(2024, 5, 1)
    at = begin + 2 * 1440 * MIN
    ts = np.arange(begin, at + 1, MIN, dtype=np.int64)
    minute_of_day = (ts - begin) // MIN % 1440
    stalled = (minute_of_day > 23 * 60) | (minute_of_day <= 60)  # flat from 23:00 to 01:00
    steps = np.where(stalled, 0.0, 10.0)
    steps[0] = 0.0
    frame = _series("rows_total", ts, np.cumsum(steps))
    sli = {"throughput": {"counter": "rows_total", "min_rate": 5, "per": "1m"}}
    spec = SLOSpec.model_validate({
        "name": "rows", "objective": 95, "sli": sli,
        "maintenance": [{"day": "daily", "start": "23:00", "end": "01:00"}],
    })
    ev = SLOEvaluator([spec, spec.model_copy(update={"name": "plain", "maintenance": ()})])
    ev.ingest(frame)
    by_name = {r.name: r for r in ev.evaluate(at).objectives}
    # 2,880 slices; those ending 00:01-01:00 and 23:01-01:00 (the last night cut at 00:00) dropped
    assert by_name["rows"].events == 2880 - 60 - 120 - 60
    assert by_name["rows"].sli == 1.0
    assert by_name["plain"].events == 2880
    assert by_name["plain"].sli == pytest.approx(2640 / 2880)
    assert by_name["rows"].burn_rates["1h"] is None  # 23:00-00:00: all maintenance
    assert by_name["plain"].burn_rates["1h"] == pytest.approx(1 / 0.05)


def test_freshness_slices_in_maintenance_do_not_count() -> None:
    begin = _ms(2024, 5, 1)
    at = begin + 6 * HOUR
    ts = np.arange(begin, at + 1, MIN, dtype=np.int64)
    # the pipeline succeeds every minute but stops from 02:00 to 03:00 (stale after 5 minutes)
    last = np.where((ts > begin + 2 * HOUR) & (ts <= begin + 3 * HOUR), begin + 2 * HOUR, ts) / 1000.0
    fresh = {"freshness": {"last_success": "pipeline_last_success", "max_age": "5m"}}
    spec = SLOSpec.model_validate({
        "name": "fresh", "objective": 99, "sli": fresh,
        "maintenance": [{"start": "2024-05-01T02:00:00Z", "end": "2024-05-01T03:00:00Z"}],
    })
    ev = SLOEvaluator([spec, spec.model_copy(update={"name": "plain", "maintenance": ()})])
    ev.ingest(_series("pipeline_last_success", ts, last))
    by_name = {r.name: r for r in ev.evaluate(at).objectives}
    assert by_name["plain"].events == 361 and by_name["plain"].sli == pytest.approx(1 - 55 / 361)
    assert by_name["fresh"].events == 361 - 60 and by_name["fresh"].sli == 1.0
