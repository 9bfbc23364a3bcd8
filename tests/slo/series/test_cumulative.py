from __future__ import annotations

import numpy as np

from redline.slo.series.cumulative import CounterSides, sum_per_side_and_time, sum_per_time
from redline.slo.series.minutes import MinuteRing
from redline.slo.series.segments import FineSegments

MIN = 60_000
HOUR = 60 * MIN
I64 = np.int64


def _points(n: int, step_ms: int = 15_000, start_ms: int = 7 * MIN) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    times = start_ms + np.arange(n, dtype=I64) * step_ms
    return times, rng.integers(0, 5, n).astype(np.float64)


def _same_state(a: CounterSides, b: CounterSides, at_ms: int) -> None:
    windows = np.asarray([5 * MIN, HOUR, 6 * HOUR, 30 * HOUR], dtype=I64)
    inc_a, known_a = a.increases(at_ms, windows)
    inc_b, known_b = b.increases(at_ms, windows)
    assert np.array_equal(inc_a, inc_b)
    assert np.array_equal(known_a, known_b)
    probes = np.arange(0, at_ms, 7 * MIN + 13, dtype=I64)
    sides = np.zeros(len(probes), dtype=I64)
    assert np.array_equal(a.values_at(sides, probes), b.values_at(sides, probes))
    assert a.last_value[0] == b.last_value[0]


def test_a_side_fed_tick_by_tick_equals_one_append_of_the_same_points() -> None:
    times, increments = _points(4 * 30 * 60)  # 30 h of 15 s scrapes: the fine tier trims, the ring wraps
    whole = CounterSides(1, keep_minutes=20 * 60)
    whole.append(0, [(times, increments)])
    ticks = CounterSides(1, keep_minutes=20 * 60)
    side = np.zeros(1, dtype=I64)
    for t, step in zip(times.tolist(), increments.tolist(), strict=True):
        assert ticks.takes_one_point(side, np.asarray([t], dtype=I64)).all()
        ticks.append_points(side, np.asarray([t], dtype=I64), np.asarray([step]))
    _same_state(whole, ticks, int(times[-1]))


def test_late_points_merged_give_the_state_of_an_in_order_append() -> None:
    times, increments = _points(4 * 60)
    in_order = CounterSides(1, keep_minutes=120)
    in_order.append(0, [(times, increments)])
    late = np.zeros(len(times), dtype=np.bool_)
    late[5:-1:7] = True
    merged = CounterSides(1, keep_minutes=120)
    merged.append(0, [(times[~late], increments[~late])])
    merged.merge_late_parts(0, [times[late]], [increments[late]])
    _same_state(in_order, merged, int(times[-1]))


def test_an_hour_of_silence_is_too_many_new_minutes_for_the_tick_path() -> None:
    sides = CounterSides(2, keep_minutes=120)
    sides.append(0, [(np.asarray([0, MIN], dtype=I64), np.asarray([1.0, 1.0]))])
    at = np.asarray([MIN + HOUR, MIN + HOUR + MIN], dtype=I64)
    assert sides.takes_one_point(np.asarray([0, 0], dtype=I64), at).tolist() == [True, False]
    assert sides.takes_one_point(np.asarray([1], dtype=I64), at[1:]).tolist() == [True]  # an empty side


def test_the_minute_ring_keeps_whole_hours_as_hourly_anchors_plus_float32_offsets() -> None:
    # a large total (float64 anchors) under which each minute's single event still shows (float32 offsets)
    ring = MinuteRing(1, keep_minutes=60)  # two hours of ring
    ring.start(0, 0)
    ring.append(0, [(np.arange(1, 4 * 60 + 1, dtype=I64) * MIN, np.ones(4 * 60))], 1e12, 4 * HOUR)
    assert ring.retained_from(0) == 3 * 60
    minutes = np.asarray([3 * 60, 3 * 60 + 59, 4 * 60], dtype=I64)
    assert ring.values(np.zeros(3, dtype=I64), minutes).tolist() == [1e12 + m for m in minutes.tolist()]
    # before the ring: clamped to its first minute
    assert ring.values(np.zeros(1, dtype=I64), np.asarray([10], dtype=I64)).tolist() == [1e12 + 180]


def test_a_full_segment_drops_points_older_than_keep_but_the_last_before_it() -> None:
    fine = FineSegments(1, keep_ms=10)
    fine.write(0, np.arange(16, dtype=I64), np.arange(16, dtype=np.float64), newest_ms=-1)
    assert fine.capacity[0] == 32
    fine.write(0, np.arange(16, 33, dtype=I64), np.arange(16, 33, dtype=np.float64), newest_ms=15)
    start, count = int(fine.offset[0]), int(fine.length[0])
    assert fine.times[start : start + count].tolist() == list(range(4, 33))  # 5 is the edge, 4 the last before
    assert fine.cumulative[start : start + count].tolist() == list(range(4, 33))


def test_points_of_several_series_are_summed_per_time_in_series_order() -> None:
    times, summed = sum_per_time(
        [np.asarray([0, 10, 20], dtype=I64), np.asarray([10, 30], dtype=I64)],
        [np.asarray([1.0, 2.0, 3.0]), np.asarray([4.0, 5.0])],
    )
    assert times.tolist() == [0, 10, 20, 30]
    assert summed.tolist() == [1.0, 6.0, 3.0, 5.0]
    side, time_ms, step, first_point = sum_per_side_and_time(
        np.asarray([1, 0, 1, 0], dtype=I64), np.asarray([5, 5, 5, 7], dtype=I64), np.asarray([1.0, 2.0, 3.0, 4.0])
    )
    assert (side.tolist(), time_ms.tolist()) == ([0, 0, 1], [5, 7, 5])
    assert (step.tolist(), first_point.tolist()) == ([2.0, 4.0, 4.0], [0, 2])
