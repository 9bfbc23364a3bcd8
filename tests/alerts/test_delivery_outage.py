"""A receiver down for 10 minutes, then back: every state change arrives once and in order per
incident (also one that opened and closed during the outage), only repeats are dropped or
collapsed and each is counted, a backlog goes in as few messages as the receiver takes, and a
rate limit's burst never exceeds the receiver's limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from redline.alerts.delivery import DeliverySettings
from redline.alerts.notifiers import Notification
from redline.alerts.outbox_sql import COLLAPSED
from redline.alerts.pagerduty import PagerDutyNotifier
from redline.alerts.slack import slack_message
from redline.alerts.state import AlertStateStore
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


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


def incident_names(store: AlertStateStore) -> dict[str, str]:
    """``slo#n`` for each dedup key: the n-th incident of that objective, in the order they opened."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for key, dedup in store.query("SELECT key, dedup_key FROM intents ORDER BY id"):
        if dedup not in names:
            slo = key.split("/")[0]
            counts[slo] = counts.get(slo, 0) + 1
            names[dedup] = f"{slo}#{counts[slo]}"
    return names


def test_a_receiver_down_for_ten_minutes_gets_every_trigger_and_resolve_once_in_order_after_it_is_back(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    pd = PagerDutyNotifier("KEY", client, name="pd", url=f"{receiver.base_url}/v2/enqueue", clock=clock)
    dropped: list[int] = []
    harness = Harness(
        store, [pd], clock, repeat_interval_s=120.0, queue_size=5,
        on_dropped=lambda _name, count: dropped.append(count),
    )
    burning: dict[str, bool] = dict.fromkeys(["ml", "db", "api", "checkout", "cart"], False)

    def tick(minute: int, **changes: bool) -> None:
        burning.update(changes)
        clock.now = T0 + 60 * minute
        harness.process(report(*(objective(n, burn=PAGE_BURN if b else {}) for n, b in burning.items()), at=clock.now))
        harness.run_until(clock.now + 59)

    tick(0, ml=True)
    tick(1, db=True)  # both delivered before the outage
    assert receiver.count() == 2
    with receiver.lock:
        receiver.statuses[:] = [503] * 10_000  # down from here, for ten minutes
    tick(2, api=True)  # and ml's repeat is owed
    tick(3, checkout=True)  # and db's repeat is owed
    tick(4, db=False)  # db's pending repeat is collapsed: its resolve says all it would
    tick(5, api=False, cart=True)  # api opened and closed while the receiver was down; the queue
    # is over its bound (5): cart's trigger is written anyway and evicts ml's pending repeat
    tick(6, checkout=False)  # from here ml's due repeats find the queue full: dropped, and counted
    tick(7, checkout=True)  # checkout's second incident
    for minute in range(8, 11):
        tick(minute)
    before = receiver.count()
    with receiver.lock:
        receiver.statuses.clear()  # back at T0 + 660
    clock.now = T0 + 660
    harness.run_until(T0 + 900)

    names = incident_names(store)
    bodies = receiver.bodies()
    first = [(b["event_action"], names[b["dedup_key"]]) for b in bodies[:2]]
    assert first == [("trigger", "ml#1"), ("trigger", "db#1")]
    delivered = [(b["event_action"], names[b["dedup_key"]]) for b in bodies[before:]]
    assert delivered == [
        ("trigger", "api#1"),
        ("trigger", "checkout#1"),
        ("resolve", "db#1"),
        ("resolve", "api#1"),
        ("trigger", "cart#1"),
        ("resolve", "checkout#1"),
        ("trigger", "checkout#2"),
    ]
    # exactly one open incident per dedup key at the receiver, the same ones Redline has open
    last_action = {names[b["dedup_key"]]: b["event_action"] for b in bodies}
    assert sorted(k for k, a in last_action.items() if a == "trigger") == ["cart#1", "checkout#2", "ml#1"]
    open_in_redline = {names[harness.manager.notification(r, "firing").dedup_key]
                       for r in store.records() if r.state == "firing"}
    assert open_in_redline == {"cart#1", "checkout#2", "ml#1"}
    # only repeats were dropped (ml's: evicted, then to a full queue) or collapsed (db's), each counted
    rows = store.query("SELECT key, repeat, last_error FROM intents WHERE state = 'dropped' ORDER BY id")
    full = ("ml/page", 1, "queue full (5); repeats are dropped first")
    assert [(k, r, e.split(":")[0]) for k, r, e in rows] == [
        ("ml/page", 1, "queue full (5)"), ("db/page", 1, "collapsed"), *[full] * 5
    ]
    assert rows[1][2] == COLLAPSED
    assert sum(dropped) == 6
    assert harness.health.snapshot()["pd"].coalesced == 1
    assert store.pending_counts() == {}
    # all seven went at the backoff's next retry after recovery (at most 60 s later), in one burst
    sent_at = {e.at for e in store.log() if e.ok and e.at >= T0 + 660}
    assert len(sent_at) == 1 and min(sent_at) <= T0 + 720


def backlog(
    store: AlertStateStore, notifier: RecordingNotifier, settings: DeliverySettings, steps: list[dict[str, bool]]
) -> list[list[tuple[str, str]]]:
    """Objectives changing as ``steps`` say, one a minute, while ``notifier`` fails; then it is back:
    the (status, objective) of each message it got."""
    clock = FakeClock()
    harness = Harness(store, [notifier], clock, repeat_interval_s=None, settings=settings)
    burning: dict[str, bool] = {}
    notifier.fail = 10_000
    for minute, changes in enumerate(steps):
        burning.update(changes)
        clock.now = T0 + 60 * minute
        harness.process(report(*(objective(n, burn=PAGE_BURN if v else {}) for n, v in burning.items()), at=clock.now))
        harness.run_until(clock.now + 59)
    notifier.fail = 0
    harness.run_until(T0 + 600)
    return [[(n.status, n.slo) for n in batch] for batch in notifier.batches]


def test_a_backlog_goes_in_as_few_messages_as_the_receiver_takes_with_each_incident_in_order(
    tmp_path: Path, open_store: OpenStore
) -> None:
    store = open_store(tmp_path / "a.db")
    chat = RecordingNotifier("chat", max_batch=4)
    chat.min_interval_s = 1.0
    steps = [{"a": True}, {"b": True}, {"a": False, "c": True}, {"b": False}]
    assert backlog(store, chat, DeliverySettings(group_wait_s=30.0, backoff=NO_JITTER), steps) == [
        [("firing", "a"), ("firing", "b"), ("resolved", "a"), ("firing", "c")],
        [("resolved", "b")],
    ]
    sent_at = sorted({e.at for e in store.log() if e.ok})
    assert len(sent_at) == 2 and sent_at[1] - sent_at[0] == 1.0  # the rate limit: one message a second


def test_a_backlog_grouped_by_objective_goes_one_objective_per_message_each_in_order(
    tmp_path: Path, open_store: OpenStore
) -> None:
    hook = RecordingNotifier("hook", max_batch=10)
    steps = [{"a": True, "b": True}, {"a": False}, {"b": False}]
    assert backlog(open_store(tmp_path / "a.db"), hook, DeliverySettings(group_by=("slo",), backoff=NO_JITTER),
                   steps) == [
        [("firing", "a"), ("resolved", "a")],
        [("firing", "b"), ("resolved", "b")],
    ]


def test_pagerduty_sends_a_backlog_of_a_hundred_at_once_and_never_more_than_a_hundred_in_any_minute(
    tmp_path: Path, open_store: OpenStore
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    pd_like = RecordingNotifier("pd", clock=clock)
    pd_like.min_interval_s, pd_like.burst = 0.6, 100
    harness = Harness(store, [pd_like], clock, repeat_interval_s=None)
    harness.process(report(*(objective(f"slo-{i:03d}", burn=PAGE_BURN) for i in range(250))), deliver=False)
    harness.run_until(T0 + 600)
    offsets = [round(t - T0, 3) for t in pd_like.times]
    assert offsets == [0.0] * 100 + [60.0] * 100 + [120.0] * 50
    assert [n.slo for n in pd_like.sent] == [f"slo-{i:03d}" for i in range(250)]


def test_a_slack_message_mixing_triggers_and_resolves_says_each_change_s_status_in_order() -> None:
    def note(slo: str, status: str) -> Notification:
        return Notification(
            status="firing" if status == "firing" else "resolved", key=f"{slo}/page",
            labels={"alertname": "RedlineErrorBudgetBurn", "slo": slo, "severity": "page", "dimension": "users"},
            annotations={}, starts_at=T0, ends_at=None if status == "firing" else T0 + 60, fingerprint="0",
        )

    body = slack_message([note("a", "firing"), note("b", "firing"), note("a", "resolved")])
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b]
    assert body["blocks"][0]["text"]["text"] == "3 changes: 2 firing, 1 resolved"
    assert [s.split(" · ")[:2] for s in sections] == [["FIRING", "a (users)"], ["FIRING", "b (users)"],
                                                       ["RESOLVED", "a (users)"]]
    assert [line.split(":")[0] for line in body["text"].split("\n")] == ["FIRING page", "FIRING page", "RESOLVED page"]
