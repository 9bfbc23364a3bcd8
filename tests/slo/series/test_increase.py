from __future__ import annotations

import pytest

from redline.slo.series.increase import increase, rate


def test_increase_extrapolates_to_both_edges_when_samples_are_close_to_them() -> None:
    # range [0s, 60s]; first sample 10 s in, last 5 s before the end, 15 s apart
    got = increase([10_000, 25_000, 40_000, 55_000], [10, 20, 30, 40], 60_000, 60_000)
    assert got == pytest.approx(30 * 60 / 45, rel=1e-12)


def test_increase_extends_only_half_an_interval_when_samples_are_far_from_the_edges() -> None:
    got = increase([30_000, 45_000, 60_000], [100, 110, 120], 90_000, 90_000)
    assert got == pytest.approx(20 * 45 / 30, rel=1e-12)


def test_increase_adds_the_value_before_a_counter_reset() -> None:
    assert increase([0, 15_000, 30_000, 45_000], [5, 10, 2, 6], 45_000, 45_000) == pytest.approx(11.0)


def test_increase_includes_a_sample_exactly_at_the_window_start() -> None:
    # at 46 s the window [1 s, 46 s] loses the sample at 0 s: 10 → 2 (reset) → 6
    assert increase([0, 15_000, 30_000, 45_000], [5, 10, 2, 6], 46_000, 45_000) == pytest.approx(9.0)
    # at 45 s the sample at 0 s sits exactly on the start and is included (Prometheus 2.x)
    assert increase([0, 15_000, 30_000, 45_000], [5, 10, 2, 6], 45_000, 45_000) == pytest.approx(11.0)


def test_increase_does_not_extrapolate_a_counter_below_zero() -> None:
    # zero point 1.5 s before the first sample, closer than the 10 s to the window start
    got = increase([10_000, 25_000, 40_000, 55_000], [1, 11, 21, 31], 60_000, 60_000)
    assert got == pytest.approx(30 * 51.5 / 45, rel=1e-12)


def test_zero_limit_is_applied_before_the_threshold_test_as_in_prometheus_2_42() -> None:
    # 40 s to the start (beyond 1.1 × 15 s), zero point 9 s before the first sample:
    # 2.42 limits first (9 s < 16.5 s, so extend by 9 s); later releases would give 7.5 s
    got = increase([40_000, 55_000, 70_000], [6, 16, 26], 70_000, 70_000)
    assert got == pytest.approx(20 * 39 / 30, rel=1e-12)


def test_increase_needs_two_samples() -> None:
    assert increase([10_000], [5.0], 60_000, 60_000) is None
    assert increase([], [], 60_000, 60_000) is None
    assert increase([0, 100_000], [1, 2], 200_000, 60_000) is None


def test_rate_is_the_increase_per_second_of_the_window() -> None:
    assert rate([0, 15_000, 30_000, 45_000], [5, 10, 2, 6], 45_000, 45_000) == pytest.approx(11 / 45)
