"""The burn-rate chart's threshold rules are the objective's period's tiers, as its alerts'."""

from __future__ import annotations

from redline.dashboard.charts import burn_thresholds


def test_a_seven_day_objective_draws_sloths_7d_factors() -> None:
    assert [(f, s) for f, s, _ in burn_thresholds(7 * 86400.0)] == [
        (13.44, "page"), (3.5, "page"), (1.4, "ticket"), (0.98, "ticket"),
    ]
    assert burn_thresholds(7 * 86400.0)[0][2] == "page 13.44× (1h & 5m)"
