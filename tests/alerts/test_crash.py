"""SIGKILL on the send path: between opening an incident and sending it, and between the
receiver's 2xx and recording it. Nothing is lost, and a re-send carries the same dedup key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from redline.alerts.notifiers import dedup_key
from redline.alerts.pagerduty import PagerDutyNotifier
from redline.alerts.state import AlertStateStore
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, Receiver, objective, report

OpenStore = Callable[[Path], AlertStateStore]

CHILD = """
import sys
import httpx
from pathlib import Path
from redline.alerts.pagerduty import PagerDutyNotifier
from redline.alerts.state import AlertStateStore
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, objective, report

db, url, where = sys.argv[1], sys.argv[2], sys.argv[3]

class Pausing(PagerDutyNotifier):
    def send(self, notifications):
        super().send(notifications)
        print("answered", flush=True)  # the receiver's 2xx is in; the intent is not marked sent yet
        sys.stdin.read()

client = httpx.Client(timeout=10)
notifier = (Pausing if where == "after-2xx" else PagerDutyNotifier)("KEY", client, url=url)
harness = Harness(AlertStateStore(Path(db)), [notifier], FakeClock())
harness.process(report(objective(burn=PAGE_BURN)), deliver=False)
print("committed", flush=True)  # the incident is open and its intent written; nothing sent
if where == "before-send":
    sys.stdin.read()
harness.deliver()
"""


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


def run_until_killed(db: Path, url: str, where: str, line: str) -> None:
    """Run the child until it prints ``line``, then SIGKILL it."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), url, where],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline().strip() for _ in range(2 if where == "after-2xx" else 1)]
        assert seen[-1] == line, seen
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL


def test_a_kill_between_opening_an_incident_and_sending_it_loses_nothing(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    db = tmp_path / "alerts.db"
    run_until_killed(db, f"{receiver.base_url}/enqueue", "before-send", "committed")
    assert receiver.count() == 0
    restarted = Harness(open_store(db), [PagerDutyNotifier("KEY", client, url=f"{receiver.base_url}/enqueue")],
                        FakeClock(T0 + 30))
    restarted.deliver()  # pending intents go first, before any evaluation
    restarted.process(report(objective(burn=PAGE_BURN)))  # still firing: no second page
    assert [(b["event_action"], b["dedup_key"]) for b in receiver.bodies()] == [
        ("trigger", dedup_key("api-availability/page", T0))
    ]


def test_a_kill_between_the_2xx_and_recording_it_re_sends_once_with_the_same_dedup_key(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    db = tmp_path / "alerts.db"
    run_until_killed(db, f"{receiver.base_url}/enqueue", "after-2xx", "answered")
    assert receiver.count() == 1
    restarted = Harness(open_store(db), [PagerDutyNotifier("KEY", client, url=f"{receiver.base_url}/enqueue")],
                        FakeClock(T0 + 30))
    restarted.deliver()
    restarted.process(report(objective(burn=PAGE_BURN)))
    key = dedup_key("api-availability/page", T0)
    # At least once: the receiver saw the trigger twice, with one dedup key, so one incident.
    assert [(b["event_action"], b["dedup_key"]) for b in receiver.bodies()] == [("trigger", key), ("trigger", key)]
    clock = restarted.clock
    clock.now += 60
    restarted.process(report(objective()))
    assert [b["event_action"] for b in receiver.bodies()] == ["trigger", "trigger", "resolve"]
    assert restarted.store.pending_counts() == {}
