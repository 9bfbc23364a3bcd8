"""The outbox's workers: backoff, Retry-After, give-up, rate limits, grouping, the bounded queue,
and a slow receiver that holds up neither evaluation nor another notifier."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from redline.alerts.classify import Backoff
from redline.alerts.delivery import DeliverySettings, DeliveryWorker, Outbox
from redline.alerts.health import HealthRegistry, NotifierEvent
from redline.alerts.manager import AlertManager
from redline.alerts.state import AlertStateStore
from redline.alerts.webhook import WebhookNotifier
from tests.alerts.conftest import (
    NO_JITTER,
    PAGE_BURN,
    T0,
    FakeClock,
    Harness,
    Receiver,
    RecordingNotifier,
    objective,
    report,
)

OpenStore = Callable[[Path], AlertStateStore]
FIRING = report(objective(burn=PAGE_BURN))


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


def attempts(store: AlertStateStore) -> list[tuple[str, bool, float]]:
    return [(e.status, e.ok, round(e.at - T0, 4)) for e in store.log()]


def test_a_429_waits_at_least_its_retry_after(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    receiver.statuses = [(429, {"Retry-After": "120"}), (429, {"Retry-After": "Wed, 01 May 2024 12:05:00 GMT"})]
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    harness = Harness(store, [WebhookNotifier(receiver.base_url, client, clock=clock)], clock)
    harness.process(FIRING)
    harness.run_until(T0 + 3600)
    assert attempts(store) == [("firing", False, 0.0), ("firing", False, 120.0), ("firing", True, 300.0)]
    assert receiver.count() == 3


def test_a_500_is_retried_with_growing_backoff_until_it_is_delivered(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    receiver.statuses = [500, 500, 500]
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    harness = Harness(store, [WebhookNotifier(receiver.base_url, client)], clock)
    harness.process(FIRING)
    harness.run_until(T0 + 3600)
    assert attempts(store) == [
        ("firing", False, 0.0), ("firing", False, 0.5), ("firing", False, 1.25), ("firing", True, 2.375)
    ]
    bodies = receiver.bodies()
    assert len(bodies) == 4 and all(b == bodies[0] for b in bodies)  # the same message each time


def test_a_receiver_failing_for_longer_than_give_up_after_is_given_up_counted_and_announced(
    tmp_path: Path, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    down = RecordingNotifier("down", fail=10_000)
    harness = Harness(store, [down], clock, settings=DeliverySettings(give_up_after_s=3600, backoff=NO_JITTER))
    events: list[NotifierEvent] = []
    harness.health.listen(events.append)
    harness.process(FIRING)
    harness.run_until(T0 + 2 * 3600)
    health = harness.health.snapshot()["down"]
    assert (health.given_up, health.sent, health.broken) == (1, 0, False)
    last = store.log()[-1]
    assert last.at - T0 >= 3600 and last.at - T0 < 3600 + 61  # the last wait is at most a minute
    assert len(store.log()) == health.retried + 1 < 90  # capped at 60 s: about 70 attempts in an hour
    assert [(e.kind, e.key) for e in events if e.kind != "failing"] == [("gave_up", "api-availability/page")]
    assert store.pending_counts() == {}
    assert any("gave up after" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_a_permanent_failure_marks_the_notifier_broken_until_it_delivers_again(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    receiver.statuses = [404]
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    harness = Harness(store, [WebhookNotifier(receiver.base_url, client)], clock)
    harness.process(FIRING)
    assert harness.health.snapshot()["webhook"].broken
    assert harness.health.snapshot()["webhook"].reason == "HTTP 404"
    clock.now += 60
    harness.process(report(objective()))  # the resolve gets through: not broken any more
    health = harness.health.snapshot()["webhook"]
    assert (health.broken, health.failed, health.sent) == (False, 1, 1)
    assert attempts(store) == [("firing", False, 0.0), ("resolved", True, 60.0)]


def test_grouping_makes_one_message_of_incidents_opening_within_the_group_window(
    tmp_path: Path, open_store: OpenStore
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    slack_like = RecordingNotifier("slack", max_batch=10)
    slack_like.min_interval_s = 1.0
    harness = Harness(store, [slack_like], clock, settings=DeliverySettings(group_wait_s=30.0, backoff=NO_JITTER))
    names = [f"slo-{i}" for i in range(15)]
    harness.process(report(*(objective(n, burn=PAGE_BURN) for n in names[:10])), deliver=False)
    clock.now = T0 + 10  # within the first one's group window
    harness.process(report(*(objective(n, burn=PAGE_BURN) for n in names[:12])), deliver=False)
    harness.run_until(T0 + 40)
    clock.now = T0 + 40  # after it: a group of its own
    harness.process(report(*(objective(n, burn=PAGE_BURN) for n in names)), deliver=False)
    harness.run_until(T0 + 120)
    assert [[n.slo for n in batch] for batch in slack_like.batches] == [names[:10], names[10:12], names[12:]]
    times = [round(e.at - T0, 3) for e in store.log()]
    assert sorted(set(times)) == [30.0, 40.0, 70.0]  # each group waits out its window


def test_the_rate_limit_spaces_messages_to_one_receiver(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    pd_like = RecordingNotifier("pagerduty")
    pd_like.min_interval_s = 0.6
    harness = Harness(store, [pd_like], clock)
    harness.process(report(*(objective(f"slo-{i}", burn=PAGE_BURN) for i in range(5))), deliver=False)
    harness.run_until(T0 + 60)
    assert [round(e.at - T0, 3) for e in store.log()] == [0.0, 0.6, 1.2, 1.8, 2.4]


def test_a_full_queue_drops_only_repeats_and_counts_them(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    down = RecordingNotifier("down", fail=10_000)
    dropped: list[tuple[str, int]] = []
    harness = Harness(
        store, [down], clock, repeat_interval_s=60.0, queue_size=2,
        on_dropped=lambda name, count: dropped.append((name, count)),
    )
    harness.process(report(objective("a", burn=PAGE_BURN), objective("b", burn=PAGE_BURN)))
    clock.now += 60  # a and b owe repeats, but each already has a pending intent: nothing new
    harness.process(report(objective("a", burn=PAGE_BURN), objective("b", burn=PAGE_BURN)))
    assert store.pending_counts() == {"down": 2}
    clock.now += 60  # c opens over the bound: a state change is always written
    harness.process(report(*(objective(n, burn=PAGE_BURN) for n in "abc")))
    assert store.pending_counts() == {"down": 3}
    assert dropped == []
    # Delivered once the receiver is back: 3 pages; then a and b repeat while c's queue slot is free.
    down.fail = 0
    harness.run_until(clock.now + 120)
    assert [n.slo for n in down.sent] == ["a", "b", "c"]
    # With the receiver down again and the queue full of state changes, a due repeat is dropped.
    down.fail = 10_000
    clock.now += 60
    harness.process(report(*(objective(n, burn=PAGE_BURN) for n in "abcd")))
    clock.now += 60
    harness.process(report(*(objective(n, burn=PAGE_BURN) for n in "abcd")))
    assert dropped and all(name == "down" for name, _ in dropped)
    assert sum(count for _, count in dropped) == len(
        store.query("SELECT id FROM intents WHERE state = 'dropped' AND repeat = 1")
    )
    assert store.query("SELECT count(*) FROM intents WHERE state = 'dropped' AND repeat = 0") == [(0,)]


def test_a_slow_receiver_holds_up_neither_the_evaluation_nor_another_notifier(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    store = open_store(tmp_path / "a.db")
    health = HealthRegistry()
    quick = RecordingNotifier("quick")
    slow = WebhookNotifier(receiver.base_url, client, name="slow")
    manager = AlertManager(store, ["slow", "quick"], repeat_interval_s=None)
    settings = DeliverySettings(backoff=Backoff(initial_s=0.01, max_s=0.01))
    outbox = Outbox([DeliveryWorker(store, n, health, settings) for n in (slow, quick)])
    manager.notify_on_commit(outbox.wake)
    receiver.release.clear()  # every answer is held until the test lets it go
    outbox.start()
    try:
        manager.process(report(objective("first", burn=PAGE_BURN)))
        assert receiver.wait_for(1, timeout_s=10)  # the slow receiver holds the first page
        manager.process(report(objective("first", burn=PAGE_BURN), objective("second", burn=PAGE_BURN)))
        with receiver.lock:  # evaluation returned while the answer is still held
            assert len(receiver.requests) == 1
        deadline = threading.Event()
        for _ in range(1000):
            if len(quick.sent) == 2:
                break
            deadline.wait(0.01)
        assert [n.slo for n in quick.sent] == ["first", "second"]
        receiver.release.set()
        assert receiver.wait_for(2, timeout_s=10)
        for _ in range(1000):
            if store.pending_counts() == {}:
                break
            deadline.wait(0.01)
        assert store.pending_counts() == {}
    finally:
        outbox.shutdown(timeout_s=5)
    assert [b["commonLabels"]["slo"] for b in receiver.bodies()] == ["first", "second"]  # no duplicates


def test_a_reload_that_changes_nothing_sends_nothing_and_keeps_the_dedup_key(
    tmp_path: Path, open_store: OpenStore
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    rec = RecordingNotifier()
    Harness(store, [rec], clock).process(FIRING)
    for _ in range(3):  # each a config reload: a new manager and worker on the same database
        clock.now += 30
        Harness(store, [rec], clock).process(FIRING)
    clock.now += 30
    Harness(store, [rec], clock).process(report(objective()))
    assert [(n.status, n.dedup_key) for n in rec.sent] == [
        ("firing", rec.sent[0].dedup_key), ("resolved", rec.sent[0].dedup_key)
    ]


def test_an_alertmanager_re_post_never_follows_the_resolve(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    am_like = RecordingNotifier("am", max_batch=100, clock=clock)
    am_like.resend_interval_s = 60.0
    harness = Harness(store, [am_like], clock)
    harness.process(FIRING)
    harness.run_until(T0 + 150)  # re-posted at +60 and +120 while firing
    clock.now = T0 + 170
    harness.process(report(objective()), deliver=False)
    harness.run_until(T0 + 600)
    assert [(n.status, round(clock_at - T0)) for n, clock_at in zip(am_like.sent, am_like.times, strict=True)] == [
        ("firing", 0), ("firing", 60), ("firing", 120), ("resolved", 170)
    ]
