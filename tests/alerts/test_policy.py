from __future__ import annotations

import pytest

from redline.alerts.policy import DEFAULT_POLICY, burn_rate, evaluate_policy
from redline.slo.ranking import BurnRateCondition
from tests.alerts.conftest import DAY_S, PAGE_BURN, objective


def test_default_factors_for_a_30_day_window_are_the_workbook_numbers() -> None:
    factors = [round(c.factor(30 * DAY_S), 9) for c in DEFAULT_POLICY]
    assert factors == [14.4, 6.0, 3.0, 1.0]
    assert [(c.severity, c.long_window, c.short_window, c.budget_share) for c in DEFAULT_POLICY] == [
        ("page", "1h", "5m", 0.02),
        ("page", "6h", "30m", 0.05),
        ("ticket", "1d", "2h", 0.10),
        ("ticket", "3d", "6h", 0.10),
    ]


def test_factors_for_a_28_day_window_keep_the_budget_shares() -> None:
    factors = [round(c.factor(28 * DAY_S), 9) for c in DEFAULT_POLICY]
    assert factors == [13.44, 5.6, 2.8, 0.933333333]


def test_page_fires_when_both_windows_burn_above_14x() -> None:
    firings = evaluate_policy(objective(burn=PAGE_BURN))
    assert [(f.severity, f.condition.long_window, f.long_burn_rate, f.short_burn_rate) for f in firings] == [
        ("page", "1h", 20.0, 25.0)
    ]
    assert round(firings[0].factor, 9) == 14.4


def test_a_fast_long_window_alone_does_not_fire_when_the_short_window_has_recovered() -> None:
    assert evaluate_policy(objective(burn={"1h": 20.0, "5m": 3.0})) == []


def test_a_fast_short_window_alone_does_not_fire() -> None:
    assert evaluate_policy(objective(burn={"1h": 3.0, "5m": 100.0})) == []


def test_a_burn_exactly_at_the_factor_does_not_fire() -> None:
    # 0.1 * 30d / 3d is exactly 1.0 in floating point; the condition is strictly greater.
    assert evaluate_policy(objective(burn={"3d": 1.0, "6h": 1.0})) == []
    fired = evaluate_policy(objective(burn={"3d": 1.01, "6h": 1.5}))
    assert [(f.severity, f.condition.long_window) for f in fired] == [("ticket", "3d")]


def test_a_missing_burn_rate_never_exceeds() -> None:
    assert evaluate_policy(objective(burn={"1h": 50.0, "5m": None})) == []


def test_no_data_objectives_never_fire_whatever_their_burn_rates() -> None:
    assert evaluate_policy(objective(burn={w: 100.0 for w in PAGE_BURN}, status="no_data")) == []


def test_all_holding_conditions_are_returned_in_policy_order() -> None:
    fired = evaluate_policy(objective(burn={w: 100.0 for w in PAGE_BURN}))
    assert [(f.severity, f.condition.long_window) for f in fired] == [
        ("page", "1h"),
        ("page", "6h"),
        ("ticket", "1d"),
        ("ticket", "3d"),
    ]


def test_the_28_day_factor_fires_where_the_30_day_one_does_not() -> None:
    burn = {"1h": 14.0, "5m": 14.0}
    assert evaluate_policy(objective(burn=burn, window_seconds=30 * DAY_S)) == []
    fired = evaluate_policy(objective(burn=burn, window_seconds=28 * DAY_S))
    assert [(f.severity, round(f.factor, 9)) for f in fired] == [("page", 13.44)]


def test_a_window_is_found_under_an_equal_duration_key() -> None:
    assert burn_rate({"60m": 15.0}, "1h") == 15.0
    assert burn_rate({"1h": float("nan")}, "1h") is None
    assert burn_rate({}, "1h") is None


def test_a_condition_with_a_bad_window_says_which_field() -> None:
    with pytest.raises(ValueError, match=r"short_window: '5x' is not a duration"):
        BurnRateCondition("page", "1h", "5x", 0.02)
    with pytest.raises(ValueError, match=r"short_window '2h' must be shorter than long_window '1h'"):
        BurnRateCondition("page", "1h", "2h", 0.02)
    with pytest.raises(ValueError, match=r"budget_share must be in \(0, 1\], got 0"):
        BurnRateCondition("page", "1h", "5m", 0)
