from __future__ import annotations

import numpy as np
import pytest

from redline.slo.alert_tiers import objective_tiers, tier_name
from redline.slo.hysteresis import INACTIVE, HoldState, open_mask, replay, replay_loop, step
from redline.slo.spec import SLOSpec

T0 = 1_700_000_000.0


def run(pattern: list[bool | None], for_s: float, keep_s: float, tick_s: float = 30.0) -> list[str]:
    state, out = INACTIVE, []
    for i, holds in enumerate(pattern):
        state = step(state, holds, T0 + i * tick_s, for_s, keep_s)
        out.append(state.state)
    return out


def test_for_keeps_a_tier_pending_until_the_condition_held_that_long() -> None:
    assert run([True] * 6, for_s=120.0, keep_s=0.0) == ["pending"] * 4 + ["firing"] * 2


def test_one_evaluation_without_the_condition_resets_pending_as_prometheus_does() -> None:
    assert run([True, True, True, False, True], for_s=120.0, keep_s=0.0) == [
        "pending",
        "pending",
        "pending",
        "inactive",
        "pending",
    ]


def test_the_resolve_delay_keeps_firing_through_a_gap_shorter_than_it() -> None:
    # fires at once, a 60 s gap within the 90 s delay, then a gap of 90 s resolves
    assert run([True, False, False, True, False, False, False, False], for_s=0.0, keep_s=90.0) == [
        "firing",
        "firing",
        "firing",
        "firing",
        "firing",
        "firing",
        "inactive",
        "inactive",
    ]


def test_unknown_data_moves_nothing() -> None:
    assert run([True, None, None, None, None, True], for_s=120.0, keep_s=0.0) == [
        "pending",
        "pending",
        "pending",
        "pending",
        "pending",
        "firing",
    ]


def test_a_restored_pending_state_fires_for_after_its_original_start() -> None:
    restored = HoldState("pending", active_since=T0, last_held=T0 + 60)
    assert step(restored, True, T0 + 119, 120.0, 0.0).state == "pending"
    fired = step(restored, True, T0 + 120, 120.0, 0.0)
    assert (fired.state, fired.active_since, fired.firing_since) == ("firing", T0, T0 + 120)


def episodes(active: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(np.concatenate([[0], active.astype(np.int8)])) == 1))


@pytest.mark.parametrize(("on_s", "off_s"), [(30, 30), (150, 30), (120, 30), (240, 60), (90, 30)])
def test_a_condition_flapping_for_30_minutes_with_for_2m_pages_at_most_twice(on_s: int, off_s: int) -> None:
    times = np.arange(0, 1800, 10.0)  # a 10 s evaluation interval
    holds = (times % (on_s + off_s)) < on_s
    without = replay(times, holds, 120.0, 0.0)
    with_delay = replay(times, holds, 120.0, 300.0)  # the page tier's default: one 5m short window
    assert episodes(with_delay) <= 2
    if on_s >= 150:
        assert episodes(without) > 2  # what the delay saves


def test_replay_without_for_or_delay_is_the_condition_itself() -> None:
    holds = np.array([True, False, True, True, False])
    assert replay(np.arange(5.0), holds, 0.0, 0.0).tolist() == holds.tolist()


def test_a_page_inhibits_a_ticket_that_was_not_open_but_not_one_that_was() -> None:
    page = np.array([False, True, True, False, False, True, False])
    ticket = np.array([True, True, True, True, False, True, True])
    opened = open_mask([page, ticket])
    assert opened[0].tolist() == page.tolist()
    # open before the page, stays open while firing; inhibited when it starts under a page; opens after
    assert opened[1].tolist() == [True, True, True, True, False, False, True]


SPEC = {
    "name": "api",
    "objective": 99.9,
    "sli": {"ratio": {"errors": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}},
}


def test_default_tiers_get_one_short_window_as_their_resolve_delay() -> None:
    tiers = objective_tiers(SLOSpec.model_validate(SPEC))
    assert [(tier_name(c), c.for_seconds, c.keep_firing_for_seconds) for c in tiers] == [
        ("page-1h-5m", 0.0, 300.0),
        ("page-6h-30m", 0.0, 1800.0),
        ("ticket-1d-2h", 0.0, 7200.0),
        ("ticket-3d-6h", 0.0, 21600.0),
    ]


def test_custom_tiers_take_a_factor_for_keep_firing_for_and_can_be_disabled() -> None:
    spec = SLOSpec.model_validate(
        {
            **SPEC,
            "alerting": {
                "tiers": [
                    {"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4, "for": "2m"},
                    {"severity": "page", "long_window": "6h", "short_window": "30m", "factor": 6, "disable": True},
                    {
                        "severity": "ticket",
                        "long_window": "1d",
                        "short_window": "2h",
                        "budget_share": 0.1,
                        "keep_firing_for": "1m",
                    },
                ]
            },
        }
    )
    tiers = objective_tiers(spec)
    assert [(tier_name(c), round(c.budget_share, 6), c.for_seconds, c.keep_firing_for_seconds) for c in tiers] == [
        ("page-1h-5m", 0.02, 120.0, 300.0),
        ("ticket-1d-2h", 0.1, 0.0, 60.0),
    ]


def test_a_disabled_page_role_leaves_only_tickets() -> None:
    spec = SLOSpec.model_validate({**SPEC, "alerting": {"page": {"disable": True}}})
    assert {c.severity for c in objective_tiers(spec)} == {"ticket"}


def test_a_factor_spending_more_than_the_budget_is_an_error_naming_the_tier() -> None:
    spec = SLOSpec.model_validate(
        {
            **SPEC,
            "alerting": {
                "tiers": [
                    {"severity": "page", "long_window": "3d", "short_window": "6h", "factor": 20},
                ]
            },
        }
    )
    with pytest.raises(ValueError, match=r"slos\[api\]\.alerting\.tiers\[0\]: factor 20 over 3d"):
        objective_tiers(spec)


@pytest.mark.parametrize("seed", range(20))
def test_the_array_replay_equals_the_step_by_step_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    times = np.cumsum(rng.choice([30.0, 60.0, 90.0], n))
    holds = rng.random(n) < rng.uniform(0.1, 0.9)
    known = rng.random(n) < 0.85
    keep = float(rng.choice([0.0, 60.0, 300.0, 1000.0]))
    tri: list[bool | None] = [bool(h) if k else None for h, k in zip(holds, known, strict=True)]
    assert replay(times, holds, 0.0, keep, known=known).tolist() == replay_loop(times, tri, 0.0, keep).tolist()
    assert replay(times, tri, 0.0, keep).tolist() == replay_loop(times, tri, 0.0, keep).tolist()
