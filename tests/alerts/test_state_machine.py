from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from redline.alerts.manager import AlertManager
from redline.alerts.notifiers import Notification, Notifier
from redline.alerts.state import AlertStateStore, NotificationLogEntry
from redline.kernel.errors import NotifyError, StoreError
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, objective, report

OpenStore = Callable[[Path], AlertStateStore]


class RecordingNotifier(Notifier):
    """Records what it is sent; fails the next ``fail`` sends (transiently unless ``permanent``)."""

    def __init__(self, name: str = "rec", fail: int = 0, permanent: bool = False) -> None:
        self.name = name
        self.sent: list[Notification] = []
        self.fail = fail
        self.permanent = permanent

    def send(self, notification: Notification) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise NotifyError(f"notifier {self.name!r}: receiver unavailable", permanent=self.permanent)
        self.sent.append(notification)


FIRING = report(objective(burn=PAGE_BURN))
CALM = report(objective())


def sent(notifier: RecordingNotifier) -> list[tuple[str, str, float, float | None]]:
    return [(n.status, n.key, n.starts_at, n.ends_at) for n in notifier.sent]


def test_firing_is_notified_once_and_resolved_once(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = AlertManager(open_store(tmp_path / "alerts.db"), [rec], clock=clock)

    events = manager.process(FIRING)
    assert [(e.key, e.previous, e.current, [(d.notifier, d.ok) for d in e.deliveries]) for e in events] == [
        ("api-availability/page", "inactive", "firing", [("rec", True)])
    ]
    clock.now += 60
    assert manager.process(FIRING) == []
    clock.now += 60
    assert manager.process(FIRING) == []
    clock.now += 60
    events = manager.process(CALM)
    assert [(e.key, e.previous, e.current) for e in events] == [
        ("api-availability/page", "firing", "resolved")
    ]
    clock.now += 60
    assert manager.process(CALM) == []
    assert sent(rec) == [
        ("firing", "api-availability/page", T0, None),
        ("resolved", "api-availability/page", T0, T0 + 180),
    ]


def test_a_firing_alert_is_re_sent_after_the_repeat_interval(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [rec], clock=clock, repeat_interval_s=3600)
    manager.process(FIRING)
    clock.now = T0 + 3599
    manager.process(FIRING)
    clock.now = T0 + 3600
    events = manager.process(FIRING)
    assert [(e.previous, e.current, [d.status for d in e.deliveries]) for e in events] == [
        ("firing", "firing", ["firing"])
    ]
    clock.now = T0 + 3600 + 1800
    manager.process(FIRING)
    assert [(s, t) for s, _, t, _ in sent(rec)] == [("firing", T0), ("firing", T0)]


def test_no_repeat_when_the_repeat_interval_is_disabled(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [rec], clock=clock, repeat_interval_s=None)
    manager.process(FIRING)
    clock.now += 30 * 86400
    assert manager.process(FIRING) == []
    assert len(rec.sent) == 1


def test_with_for_seconds_an_alert_is_pending_before_it_fires(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    store = open_store(tmp_path / "a.db")
    manager = AlertManager(store, [rec], clock=clock, for_seconds=120)

    assert [(e.previous, e.current) for e in manager.process(FIRING)] == [("inactive", "pending")]
    clock.now = T0 + 119
    assert manager.process(FIRING) == []
    clock.now = T0 + 120
    assert [(e.previous, e.current) for e in manager.process(FIRING)] == [("pending", "firing")]
    assert sent(rec) == [("firing", "api-availability/page", T0 + 120, None)]


def test_a_pending_alert_that_stops_holding_goes_inactive_without_notifying(
    tmp_path: Path, open_store: OpenStore
) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [rec], clock=clock, for_seconds=300)
    manager.process(FIRING)
    clock.now += 60
    assert [(e.previous, e.current) for e in manager.process(CALM)] == [("pending", "inactive")]
    clock.now += 600
    assert [(e.previous, e.current) for e in manager.process(FIRING)] == [("inactive", "pending")]
    assert rec.sent == []


def test_a_restart_does_not_re_page_a_still_firing_alert(tmp_path: Path, open_store: OpenStore) -> None:
    path = tmp_path / "alerts.db"
    clock = FakeClock()
    first = RecordingNotifier()
    store = open_store(path)
    AlertManager(store, [first], clock=clock).process(FIRING)
    store.close()

    clock.now += 300
    second = RecordingNotifier()
    restarted = AlertManager(open_store(path), [second], clock=clock)
    assert restarted.process(FIRING) == []
    assert second.sent == []

    clock.now += 300
    events = restarted.process(CALM)
    assert [(e.previous, e.current) for e in events] == [("firing", "resolved")]
    assert sent(second) == [("resolved", "api-availability/page", T0, T0 + 600)]
    assert sent(first) == [("firing", "api-availability/page", T0, None)]


def test_a_restart_still_sends_a_resolve_that_could_not_be_delivered(
    tmp_path: Path, open_store: OpenStore
) -> None:
    path = tmp_path / "alerts.db"
    clock = FakeClock()
    flaky = RecordingNotifier()
    store = open_store(path)
    manager = AlertManager(store, [flaky], clock=clock)
    manager.process(FIRING)
    clock.now += 60
    flaky.fail = 1
    events = manager.process(CALM)
    assert [(d.status, d.ok, d.attempt) for e in events for d in e.deliveries] == [("resolved", False, 1)]
    store.close()

    clock.now += 60
    healthy = RecordingNotifier()
    events = AlertManager(open_store(path), [healthy], clock=clock).process(CALM)
    assert [(e.previous, e.current, [(d.status, d.ok, d.attempt) for d in e.deliveries]) for e in events] == [
        ("resolved", "resolved", [("resolved", True, 2)])
    ]
    assert sent(healthy) == [("resolved", "api-availability/page", T0, T0 + 60)]
    assert open_store(path).log() == [
        NotificationLogEntry("api-availability/page", "firing", "rec", True, None, 1, T0),
        NotificationLogEntry(
            "api-availability/page",
            "resolved",
            "rec",
            False,
            "notifier 'rec': receiver unavailable",
            1,
            T0 + 60,
        ),
        NotificationLogEntry("api-availability/page", "resolved", "rec", True, None, 2, T0 + 120),
    ]


def test_a_resolve_supersedes_an_undelivered_firing(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier(fail=1)
    manager = AlertManager(open_store(tmp_path / "a.db"), [rec], clock=clock)
    manager.process(FIRING)
    clock.now += 60
    manager.process(CALM)
    assert sent(rec) == [("resolved", "api-availability/page", T0, T0 + 60)]


def test_a_permanent_failure_is_recorded_and_not_retried(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    broken = RecordingNotifier("broken", fail=1, permanent=True)
    store = open_store(tmp_path / "a.db")
    manager = AlertManager(store, [broken], clock=clock)
    events = manager.process(FIRING)
    assert [(d.ok, d.permanent) for e in events for d in e.deliveries] == [(False, True)]
    clock.now += 60
    assert manager.process(FIRING) == []
    assert broken.sent == []
    assert store.owed() == []
    assert [(e.ok, e.error) for e in store.log()] == [(False, "notifier 'broken': receiver unavailable")]


def test_one_failing_notifier_does_not_stop_another(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    down = RecordingNotifier("down", fail=100)
    up = RecordingNotifier("up")
    store = open_store(tmp_path / "a.db")
    events = AlertManager(store, [down, up], clock=clock).process(FIRING)
    assert sorted((d.notifier, d.ok) for e in events for d in e.deliveries) == [("down", False), ("up", True)]
    assert sent(up) == [("firing", "api-availability/page", T0, None)]
    assert [(o.key, o.notifier, o.status, o.tries) for o in store.owed()] == [
        ("api-availability/page", "down", "firing", 1)
    ]


def test_page_and_ticket_are_separate_alerts(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [rec], clock=clock)
    burning = report(objective(burn=dict.fromkeys(PAGE_BURN, 100.0)))
    events = manager.process(burning)
    assert [(e.key, e.current, round(e.firing.factor, 6) if e.firing else None) for e in events] == [
        ("api-availability/page", "firing", 14.4),
        ("api-availability/ticket", "firing", 3.0),
    ]
    assert [n.labels["severity"] for n in rec.sent] == ["page", "ticket"]


def fired_a_minute_ago(tmp_path: Path, open_store: OpenStore) -> tuple[AlertManager, RecordingNotifier]:
    """A manager whose page for FIRING was sent a minute ago (the clock now a minute on)."""
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [rec], clock=clock)
    manager.process(FIRING)
    clock.now += 60
    return manager, rec


def test_an_objective_that_failed_to_evaluate_keeps_its_alert_firing(
    tmp_path: Path, open_store: OpenStore
) -> None:
    manager, rec = fired_a_minute_ago(tmp_path, open_store)
    failed = report(objective(burn=dict.fromkeys(PAGE_BURN), status="no_data", error="store unreadable"))
    assert manager.process(failed) == []
    assert [n.status for n in rec.sent] == ["firing"]


def test_an_objective_with_no_data_keeps_its_alert_firing(tmp_path: Path, open_store: OpenStore) -> None:
    manager, rec = fired_a_minute_ago(tmp_path, open_store)  # missing data is no evidence (issue 10)
    no_data = report(objective(burn=dict.fromkeys(PAGE_BURN), status="no_data"))
    assert manager.process(no_data) == []
    assert [n.status for n in rec.sent] == ["firing"]


def test_an_objective_removed_from_the_report_resolves_its_alert(
    tmp_path: Path, open_store: OpenStore
) -> None:
    manager, rec = fired_a_minute_ago(tmp_path, open_store)
    assert [(e.key, e.current) for e in manager.process(report())] == [("api-availability/page", "resolved")]
    assert sent(rec)[-1] == ("resolved", "api-availability/page", T0, T0 + 60)


def test_a_file_that_is_not_an_alert_database_is_refused_and_left_untouched(
    tmp_path: Path, open_store: OpenStore
) -> None:
    path = tmp_path / "alerts.db"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"alert state .*alerts\.db: not usable as an SQLite database"):
        open_store(path).records()
    assert path.read_bytes() == before


def test_duplicate_notifier_names_are_rejected(tmp_path: Path, open_store: OpenStore) -> None:
    with pytest.raises(ValueError, match="notifier names must be unique; repeated: rec"):
        AlertManager(open_store(tmp_path / "a.db"), [RecordingNotifier(), RecordingNotifier()])
