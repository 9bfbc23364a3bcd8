"""Coalescing after an outage: a receiver that comes back gets each incident's final state only,
never loses one it needs, and the superseded notifications are counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from redline.alerts.outbox_sql import COALESCED
from redline.alerts.pagerduty import PagerDutyNotifier
from redline.alerts.state import AlertStateStore
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, Receiver, objective, report

OpenStore = Callable[[Path], AlertStateStore]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


def test_a_receiver_back_from_an_outage_gets_only_final_states_and_one_open_incident_per_dedup_key(
    tmp_path: Path, open_store: OpenStore, down_receiver: Receiver, client: httpx.Client
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    pd = PagerDutyNotifier("KEY", client, name="pd", url=f"{down_receiver.base_url}/v2/enqueue", clock=clock)
    harness = Harness(store, [pd], clock, repeat_interval_s=None)
    burning = {"api": True, "checkout": False, "cart": False}

    def tick(at: float) -> None:
        clock.now = at
        harness.process(report(*(objective(n, burn=PAGE_BURN if b else {}) for n, b in burning.items()), at=at))
        harness.run_until(at + 59)

    tick(T0)  # api's trigger is attempted (refused): it may have arrived, so its resolve is owed
    burning["checkout"] = True
    tick(T0 + 60)  # checkout's trigger waits behind api's: never attempted
    burning.update(api=False, checkout=False, cart=True)
    tick(T0 + 120)
    burning["checkout"] = True
    tick(T0 + 180)  # checkout opens a second incident (a new dedup key) and stays open
    assert down_receiver.count() == 0

    down_receiver.start()
    harness.run_until(T0 + 600)
    rows = store.query("SELECT key, status, dedup_key, state, tries, last_error FROM intents ORDER BY id")
    dedup = {(k, s): d for k, s, d, *_ in rows if s == "resolved"}
    firing = [(k, d) for k, s, d, *_ in rows if s == "firing"]
    api, checkout1 = dedup[("api/page", "resolved")], dedup[("checkout/page", "resolved")]
    checkout2 = next(d for k, d in firing if k == "checkout/page" and d != checkout1)
    cart = next(d for k, d in firing if k == "cart/page")

    got = [(b["event_action"], b["dedup_key"]) for b in down_receiver.bodies()]
    assert sorted(got) == sorted([("resolve", api), ("trigger", cart), ("trigger", checkout2)])
    # in the outbox's order: the final states keep the order their incidents changed in
    assert got.index(("trigger", cart)) < got.index(("trigger", checkout2))
    # exactly one open incident per dedup key at the receiver, and the same ones as Redline's
    open_at_receiver: dict[str, str] = {}
    for action, key in got:
        open_at_receiver[key] = action
    assert {k for k, a in open_at_receiver.items() if a == "trigger"} == {cart, checkout2}
    coalesced = sorted((k, s, d) for k, s, d, state, _, err in rows if state == "dropped" and err == COALESCED)
    assert coalesced == sorted(
        [
            ("api/page", "firing", api),
            ("checkout/page", "firing", checkout1),
            ("checkout/page", "resolved", checkout1),
        ]
    )
    assert harness.health.snapshot()["pd"].coalesced == 3
    assert store.pending_counts() == {}


def test_a_resolve_is_never_coalesced_once_its_trigger_was_sent(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    pd = PagerDutyNotifier("KEY", client, name="pd", url=f"{receiver.base_url}/v2/enqueue", clock=clock)
    harness = Harness(store, [pd], clock, repeat_interval_s=None)
    harness.process(report(objective(burn=PAGE_BURN)))
    receiver.statuses.extend([503] * 5)  # the receiver fails while the resolve is written
    clock.now = T0 + 60
    harness.process(report(objective(), at=clock.now))
    harness.run_until(T0 + 600)
    actions = [b["event_action"] for b in receiver.bodies()]
    assert actions == ["trigger"] + ["resolve"] * 6  # five 503s, then the resolve delivered
    assert harness.health.snapshot()["pd"].coalesced == 0
