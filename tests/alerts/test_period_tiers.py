"""Without a policy of its own, the alert manager judges each objective by its period's tiers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from redline.alerts.manager import AlertManager
from redline.alerts.state import AlertStateStore
from redline.slo.ranking import MULTIWINDOW_CONDITIONS
from tests.alerts.conftest import DAY_S, FakeClock, objective, report
from tests.alerts.test_state_machine import RecordingNotifier

OpenStore = Callable[[Path], AlertStateStore]

# 10× over 1h and 5m, 3× over 6h and 30m: a page for a 7-day objective under the 30-day shares
# (2% of 7 d in 1 h is 3.36×), none under Sloth's 7d tiers (8% in 1 h: 13.44×; 12.5% in 6 h: 3.5×);
# the 7d ticket (20% in 1 d: 1.4× over 1d and 2h) fires.
BURN_5X = {"5m": 10.0, "30m": 3.0, "1h": 10.0, "2h": 3.0, "6h": 3.0, "1d": 2.0, "3d": 1.0}


def test_a_seven_day_objective_pages_at_sloths_13_44_not_at_3_36(tmp_path: Path, open_store: OpenStore) -> None:
    manager = AlertManager(open_store(tmp_path / "a.sqlite"), [RecordingNotifier()], clock=FakeClock())
    weekly = objective("weekly", BURN_5X, window_seconds=7 * DAY_S)
    fired = {(e.slo, e.severity): e.current for e in manager.process(report(weekly))}
    assert fired == {("weekly", "ticket"): "firing"}


def test_a_policy_given_still_applies_to_every_objective(tmp_path: Path, open_store: OpenStore) -> None:
    manager = AlertManager(
        open_store(tmp_path / "a.sqlite"), [RecordingNotifier()], MULTIWINDOW_CONDITIONS, clock=FakeClock()
    )
    weekly = objective("weekly", BURN_5X, window_seconds=7 * DAY_S)
    fired = {(e.slo, e.severity): e.current for e in manager.process(report(weekly))}
    assert fired == {("weekly", "page"): "firing", ("weekly", "ticket"): "firing"}
