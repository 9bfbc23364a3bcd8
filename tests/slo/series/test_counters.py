from __future__ import annotations

import numpy as np
import pytest

from redline.slo.series.counters import SeriesCounters
from redline.slo.series.increase import increase, series_increments

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
I64 = np.int64


def _fed(
    times: np.ndarray, values: np.ndarray, *, tick_by_tick: bool = False, keep_minutes: int = 4 * 1440
) -> SeriesCounters:
    counters = SeriesCounters(keep_minutes=keep_minutes)
    counters.grow(1)
    first = np.zeros(len(times), dtype=np.bool_)
    first[0] = True
    inc = series_increments(first, values, np.full(len(values), np.nan))
    if tick_by_tick:
        for i in range(len(times)):
            counters.add(np.zeros(1, dtype=I64), times[i : i + 1], values[i : i + 1], inc[i : i + 1])
    else:
        counters.add(np.zeros(len(times), dtype=I64), times, values, inc)
    return counters


def _one(counters: SeriesCounters, at_ms: int, window_ms: int) -> float | None:
    got, known = counters.increases(at_ms, np.asarray([window_ms], dtype=I64))
    return float(got[0, 0]) if known[0, 0] else None


def test_windows_up_to_six_hours_are_prometheus_exactly_on_a_phased_series_with_a_reset() -> None:
    times = 7_000 + np.arange(0, 8 * 60 * 4, dtype=I64) * 15_000  # 8 h of 15 s scrapes, 7 s phase
    values = np.cumsum(np.random.default_rng(2).integers(0, 9, len(times))).astype(np.float64) + 3.0
    values[700:] -= values[700] - 1.0  # a reset to 1
    counters = _fed(times, values)
    # the exact tier answers up to an hour before the newest sample (it keeps 7 h)
    for at in range(int(times[-1]) - HOUR, int(times[-1]) + 60_000, 3 * MIN + 1_000):
        for window in (5 * MIN, 30 * MIN, HOUR, 6 * HOUR):
            assert _one(counters, at, window) == pytest.approx(increase(times, values, at, window), rel=1e-12)


def test_a_series_born_inside_a_window_is_extrapolated_on_its_own_samples() -> None:
    times = 3 * DAY + np.arange(0, 600, dtype=I64) * MIN  # born at 3 d with value 40
    values = 40.0 + np.arange(600, dtype=np.float64) * 2.0
    counters = _fed(times, values)
    at = int(times[-1]) + 20_000
    for window in (DAY, 3 * DAY):
        # 2 × 599 raw, extended by half a minute at the start (the zero point is farther) and
        # the 20 s to the end
        assert _one(counters, at, window) == pytest.approx(increase(times, values, at, window), rel=1e-12)
        assert _one(counters, at, window) == pytest.approx(1198 * (599 * 60 + 30 + 20) / (599 * 60), rel=1e-12)


def test_a_gap_longer_than_the_window_starts_a_new_life_whose_first_sample_is_exact() -> None:
    before = np.arange(0, 2 * DAY, MIN, dtype=I64)
    after = np.arange(2 * DAY + 30 * HOUR, 4 * DAY, MIN, dtype=I64)
    times = np.concatenate([before, after])
    values = np.arange(len(times), dtype=np.float64) * 5.0 + 100.0
    values[len(before) :] += 50_000.0  # the counter went on while nobody scraped it
    counters = _fed(times, values)
    assert len(counters.closed_lives[0]) == 1
    at = int(times[-1])
    for window in (DAY, 2 * DAY, 3 * DAY):  # starting in the gap, at the return, before the gap
        want = increase(times, values, at, window)
        assert want is not None
        assert _one(counters, at, window) == pytest.approx(want, rel=1e-9)
    # a day that starts in the gap holds no jump across it
    assert _one(counters, at, DAY + 20 * HOUR) == pytest.approx(increase(times, values, at, DAY + 20 * HOUR), rel=1e-9)


def test_tick_by_tick_gives_the_same_answers_as_one_batch() -> None:
    times = np.concatenate(
        [np.arange(0, 3 * HOUR, 15_000, dtype=I64), np.arange(4 * HOUR, 9 * HOUR, 15_000, dtype=I64)]
    )
    values = np.cumsum(np.random.default_rng(8).integers(0, 4, len(times))).astype(np.float64)
    values[500:] -= values[500]  # a reset to 0
    whole, ticks = _fed(times, values), _fed(times, values, tick_by_tick=True)
    windows = np.asarray([5 * MIN, HOUR, 6 * HOUR, DAY], dtype=I64)
    for at in (int(times[-1]), int(times[-1]) - 2 * HOUR - 5_000):
        got_whole, known_whole = whole.increases(at, windows)
        got_ticks, known_ticks = ticks.increases(at, windows)
        np.testing.assert_allclose(got_ticks, got_whole, rtol=1e-12)
        assert (known_ticks == known_whole).all()


def test_lives_older_than_every_window_are_forgotten() -> None:
    # one sample an hour for 10 days: every gap is a new life; the ring keeps 1 day
    times = np.arange(0, 10 * DAY, HOUR, dtype=I64)
    counters = _fed(times, np.arange(len(times), dtype=np.float64), keep_minutes=1440)
    assert all(life.end_ms >= int(times[-1]) - DAY - HOUR for life in counters.closed_lives[0])
