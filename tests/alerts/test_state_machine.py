from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from redline.alerts.manager import AlertManager
from redline.alerts.state import AlertStateStore, NotificationLogEntry
from redline.kernel.errors import StoreError
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, RecordingNotifier, objective, report

OpenStore = Callable[[Path], AlertStateStore]


FIRING = report(objective(burn=PAGE_BURN))
CALM = report(objective())


def sent(notifier: RecordingNotifier) -> list[tuple[str, str, float, float | None]]:
    return [(n.status, n.key, n.starts_at, n.ends_at) for n in notifier.sent]


def test_firing_is_notified_once_and_resolved_once(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = Harness(open_store(tmp_path / "alerts.db"), [rec], clock)

    events = manager.process(FIRING)
    assert [(e.key, e.previous, e.current, e.owed_to) for e in events] == [
        ("api-availability/page", "inactive", "firing", ("rec",))
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
    manager = Harness(open_store(tmp_path / "a.db"), [rec], clock, repeat_interval_s=3600)
    manager.process(FIRING)
    clock.now = T0 + 3599
    manager.process(FIRING)
    clock.now = T0 + 3600
    events = manager.process(FIRING)
    assert events == []  # a repeat is no transition
    assert [n.status for n in rec.sent] == ["firing", "firing"]
    clock.now = T0 + 3600 + 1800
    manager.process(FIRING)
    assert [(s, t) for s, _, t, _ in sent(rec)] == [("firing", T0), ("firing", T0)]
    assert {n.dedup_key for n in rec.sent} == {rec.sent[0].dedup_key}


def test_no_repeat_when_the_repeat_interval_is_disabled(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = Harness(open_store(tmp_path / "a.db"), [rec], clock, repeat_interval_s=None)
    manager.process(FIRING)
    clock.now += 30 * 86400
    assert manager.process(FIRING) == []
    assert len(rec.sent) == 1


def test_with_for_seconds_an_alert_is_pending_before_it_fires(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    store = open_store(tmp_path / "a.db")
    manager = Harness(store, [rec], clock, for_seconds=120)

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
    manager = Harness(open_store(tmp_path / "a.db"), [rec], clock, for_seconds=300)
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
    Harness(store, [first], clock).process(FIRING)
    store.close()

    clock.now += 300
    second = RecordingNotifier()
    restarted = Harness(open_store(path), [second], clock)
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
    manager = Harness(store, [flaky], clock)
    manager.process(FIRING)
    clock.now += 60
    flaky.fail = 1
    manager.process(CALM)
    assert [(e.status, e.ok, e.attempts) for e in store.log()] == [("firing", True, 1), ("resolved", False, 1)]
    store.close()

    clock.now += 60
    healthy = RecordingNotifier()
    restarted = Harness(open_store(path), [healthy], clock)
    restarted.run_until(clock.now)  # the pending intent is replayed at start, before any evaluation
    assert sent(healthy) == [("resolved", "api-availability/page", T0, T0 + 60)]
    assert open_store(path).log() == [
        NotificationLogEntry("api-availability/page", "firing", "rec", True, None, 1, T0),
        NotificationLogEntry(
            "api-availability/page",
            "resolved",
            "rec",
            False,
            "receiver unavailable",
            1,
            T0 + 60,
        ),
        NotificationLogEntry("api-availability/page", "resolved", "rec", True, None, 2, T0 + 120),
    ]


def test_an_undelivered_firing_is_still_sent_before_its_resolve(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier(fail=1)
    manager = Harness(open_store(tmp_path / "a.db"), [rec], clock)
    manager.process(FIRING)  # attempted and failed: the resolve written next never supersedes it
    clock.now += 60
    manager.process(CALM)
    assert sent(rec) == [
        ("firing", "api-availability/page", T0, None),
        ("resolved", "api-availability/page", T0, T0 + 60),
    ]
    assert manager.health.snapshot()["rec"].coalesced == 0


def test_a_permanent_failure_is_recorded_and_not_retried(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    broken = RecordingNotifier("broken", fail=1, permanent=True)
    store = open_store(tmp_path / "a.db")
    manager = Harness(store, [broken], clock)
    events = manager.process(FIRING)
    assert [e.owed_to for e in events] == [("broken",)]
    clock.now += 60
    assert manager.process(FIRING) == []
    manager.run_until(clock.now + 3600)
    assert broken.sent == []
    assert store.pending_counts() == {}
    assert manager.health.snapshot()["broken"].broken
    assert [(e.ok, e.error) for e in store.log()] == [(False, "receiver unavailable")]


def test_one_failing_notifier_does_not_stop_another(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    down = RecordingNotifier("down", fail=100)
    up = RecordingNotifier("up")
    store = open_store(tmp_path / "a.db")
    harness = Harness(store, [down, up], clock)
    harness.process(FIRING)
    assert sent(up) == [("firing", "api-availability/page", T0, None)]
    assert [(i.key, i.notifier, i.status, i.tries) for w in harness.workers for i in w.pending()] == [
        ("api-availability/page", "down", "firing", 1)
    ]


def test_page_and_ticket_are_separate_alerts(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = Harness(open_store(tmp_path / "a.db"), [rec], clock)
    burning = report(objective(burn=dict.fromkeys(PAGE_BURN, 100.0)))
    events = manager.process(burning)
    assert [(e.key, e.current, round(e.firing.factor, 6) if e.firing else None) for e in events] == [
        ("api-availability/page", "firing", 14.4),
        ("api-availability/ticket", "firing", 3.0),
    ]
    assert [n.labels["severity"] for n in rec.sent] == ["page", "ticket"]


def fired_a_minute_ago(tmp_path: Path, open_store: OpenStore) -> tuple[Harness, RecordingNotifier]:
    """A manager whose page for FIRING was sent a minute ago (the clock now a minute on)."""
    clock = FakeClock()
    rec = RecordingNotifier()
    manager = Harness(open_store(tmp_path / "a.db"), [rec], clock)
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
