"""Missing data is no evidence: a firing page whose data was lost is neither resolved nor re-paged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from redline.alerts.state import AlertStateStore
from tests.alerts.conftest import PAGE_BURN, FakeClock, Harness, RecordingNotifier, objective, report

OpenStore = Callable[[Path], AlertStateStore]


def test_a_firing_page_whose_data_is_lost_stays_firing_until_data_shows_the_burn_below(
    tmp_path: Path, open_store: OpenStore
) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    state = open_store(tmp_path / "alerts.sqlite")
    manager = Harness(state, [rec], clock)
    manager.process(report(objective(burn=PAGE_BURN)))

    lost_day = objective(burn=dict.fromkeys(PAGE_BURN), status="no_data", budget_remaining=None)
    lost_tail = objective(burn={**PAGE_BURN, "5m": None, "30m": None})  # 1h still 20×: unknown, not calm
    gone_short = objective(burn={**PAGE_BURN, "5m": None, "1h": None, "30m": None, "6h": None})
    for lost in (lost_day, lost_tail, gone_short, lost_day):
        clock.now += 60
        assert manager.process(report(lost)) == []
        record = state.get("api-availability/page")
        assert record is not None and record.state == "firing"

    clock.now += 60  # the data is back and shows the burn as it is: still firing, no second page
    assert manager.process(report(objective(burn=PAGE_BURN))) == []
    clock.now += 60  # the long window shows the burn below 14.4× and the 6h one below 6×: resolved
    calm_long = objective(burn={**dict.fromkeys(PAGE_BURN), "1h": 2.0, "6h": 1.0})
    assert [(e.previous, e.current) for e in manager.process(report(calm_long))] == [("firing", "resolved")]
    assert [n.status for n in rec.sent] == ["firing", "resolved"]


def test_a_pending_alert_without_data_stays_pending(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    manager = Harness(open_store(tmp_path / "a.sqlite"), [RecordingNotifier()], clock, for_seconds=300)
    manager.process(report(objective(burn=PAGE_BURN)))
    clock.now += 60
    assert manager.process(report(objective(burn=dict.fromkeys(PAGE_BURN), status="no_data"))) == []
    clock.now += 300
    events = manager.process(report(objective(burn=PAGE_BURN)))
    assert [(e.previous, e.current) for e in events] == [("pending", "firing")]
