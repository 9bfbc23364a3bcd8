"""Default burn-rate tiers by period (Sloth's window catalogue) and an objective's own tiers."""

from __future__ import annotations

from typing import Any

import pytest

from redline.slo.alert_tiers import objective_tiers, with_resolve_delay
from redline.slo.ranking import MULTIWINDOW_CONDITIONS
from redline.slo.spec import SLOSpec
from redline.slo.tiers import default_tiers, nominal_period_seconds

DAY = 86400.0


def _factors(period_days: float) -> list[float]:
    return [round(c.factor(period_days * DAY), 4) for c in default_tiers(period_days * DAY)]


def test_thirty_days_are_the_workbooks_tiers() -> None:
    assert default_tiers(30 * DAY) == MULTIWINDOW_CONDITIONS
    assert _factors(30) == [14.4, 6.0, 3.0, 1.0]


def test_seven_days_page_at_sloths_13_44() -> None:
    # Sloth's examples/windows/7d.yaml: 8%, 12.5%, 20%, 42% of a 168h budget over 1h, 6h, 24h, 72h.
    assert _factors(7) == [13.44, 3.5, 1.4, 0.98]


def test_twenty_eight_days_are_sloths_google_28d() -> None:
    assert _factors(28) == [13.44, 5.6, 2.8, 0.9333]


def test_fourteen_days_interpolate_shares_in_log_period_and_keep_the_fast_page() -> None:
    shares = [round(c.budget_share, 4) for c in default_tiers(14 * DAY)]
    assert shares == [0.04, 0.0791, 0.1414, 0.2049]
    assert _factors(14)[0] == 13.44


def test_periods_outside_the_catalogue_keep_the_nearest_shares() -> None:
    assert [c.budget_share for c in default_tiers(1 * DAY)] == [0.08, 0.125, 0.20, 0.42]
    assert [c.budget_share for c in default_tiers(90 * DAY)] == [0.02, 0.05, 0.10, 0.10]
    assert _factors(31) == [14.88, 6.2, 3.1, 1.0333]


def test_windows_are_the_same_pairs_for_every_period() -> None:
    pairs = [(c.severity, c.long_window, c.short_window) for c in default_tiers(7 * DAY)]
    assert pairs == [("page", "1h", "5m"), ("page", "6h", "30m"), ("ticket", "1d", "2h"), ("ticket", "3d", "6h")]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_a_period_that_is_not_a_positive_duration_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="period_seconds"):
        default_tiers(bad)


def _spec(**kw: Any) -> SLOSpec:
    return SLOSpec.model_validate(
        {"name": "api", "objective": 99.9, "sli": {"ratio": {"errors": "e_total", "total": "t_total"}}, **kw}
    )


def test_an_objective_without_alerting_gets_its_periods_tiers() -> None:
    assert objective_tiers(_spec(window="7d")) == tuple(map(with_resolve_delay, default_tiers(7 * DAY)))
    assert nominal_period_seconds(_spec(calendar={"period": "month"})) == 30 * DAY


def test_a_disabled_role_drops_its_tiers() -> None:
    tiers = objective_tiers(_spec(alerting={"ticket": {"disable": True}}))
    assert [c.severity for c in tiers] == ["page", "page"]


def test_custom_tiers_replace_the_defaults_with_for_and_factor() -> None:
    spec = _spec(
        alerting={
            "tiers": [
                {"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 10, "for": "2m"},
                {"severity": "ticket", "long_window": "1d", "short_window": "2h", "budget_share": 0.1, "disable": True},
            ]
        }
    )
    (tier,) = objective_tiers(spec)
    assert (tier.severity, round(tier.factor(30 * DAY), 9), tier.for_seconds) == ("page", 10.0, 120.0)
