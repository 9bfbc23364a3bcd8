"""Delivery benchmark: the outbox against receivers on 127.0.0.1 under faults (figures, not tests).

Run: ``python -m bench.delivery``. Scenarios (a fake clock drives the workers where minutes of
backoff or rate limit are simulated; real HTTP everywhere):

- outage: a PagerDuty-shaped receiver down for 10 minutes while 50 incidents open, resolve and
  re-open; figures: seconds from recovery until every state change is delivered, lost state
  changes, open incidents per dedup key at the receiver against Redline's;
- slack: 500 incidents to a Slack-shaped receiver that answers 429 (Retry-After 3 s) to a message
  sooner than 1 s after the last and 429 (Retry-After 10 s) to every 40th; lost incidents, the
  shortest gap between messages, messages sent before a Retry-After ran out;
- latency: real threads and real time: from ``process()`` seeing the burn to the receiver having
  the page (add up to one evaluation interval, 30 s by default, for the burn to be seen);
- kills: the send path SIGKILLed at 20 random points (a child process evaluating a schedule of
  state changes), restarted each time: lost state changes and duplicate incidents.

Baseline (the inline delivery this replaced, measured by the issue): a 20 s receiver stalled the
evaluation 44 s and sent 10 duplicates; 50 objectives gave 100 posts in 7 s with no rate limit.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from redline.alerts.delivery import DeliverySettings, DeliveryWorker, Outbox
from redline.alerts.health import HealthRegistry
from redline.alerts.manager import AlertManager
from redline.alerts.notifiers import Notifier
from redline.alerts.pagerduty import PagerDutyNotifier
from redline.alerts.slack import SlackNotifier
from redline.alerts.state import AlertStateStore
from redline.alerts.webhook import WebhookNotifier
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import BURN_WINDOWS

T0 = 1_767_225_600.0
BURNING = {"5m": 25.0, "30m": 20.0, "1h": 20.0, "2h": 10.0, "6h": 4.0, "1d": 2.0, "3d": 0.5}


class Clock:
    """A clock the benchmark moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def objective(name: str, burning: bool) -> ObjectiveResult:
    rates: dict[str, float | None] = dict.fromkeys(BURN_WINDOWS, 0.0)
    if burning:
        rates.update(BURNING)
    return ObjectiveResult(
        name=name, kind="availability", dimension="users", target=0.999, window="30d",
        window_seconds=30 * 86400.0, value=0.99, budget_remaining=0.5, burn_rates=rates,
        time_to_breach_seconds=3600.0, status="warning", reason="bench",
    )


def report(at: float, burning: dict[str, bool]) -> StatusReport:
    return StatusReport(at=at, dimensions=(), objectives=tuple(objective(n, b) for n, b in sorted(burning.items())))


class Receiver:
    """A receiver on 127.0.0.1: ``answer(body, now)`` gives (status, headers); every request is kept."""

    def __init__(self, answer: Callable[[Any], tuple[int, dict[str, str]]]) -> None:
        self.answer = answer
        self.bodies: list[Any] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with outer.lock:
                    status, headers = outer.answer(body)
                    if 200 <= status < 300:
                        outer.bodies.append(body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pd_state(bodies: list[Any]) -> tuple[dict[str, str], int]:
    """PagerDuty's semantics: an incident per dedup key, opened by a trigger, closed by a resolve.
    Returns the last action per key and how many events repeated the key's current state."""
    state: dict[str, str] = {}
    repeats = 0
    for b in bodies:
        key, action = b["dedup_key"], b["event_action"]
        repeats += state.get(key) == action
        state[key] = action
    return state, repeats


def run(workers: list[DeliveryWorker], clock: Clock, until: float) -> None:
    """Step the workers, moving the clock to each next due time, until nothing is due before ``until``."""
    while True:
        dues = [w.step() for w in workers]
        if any(d is not None and d <= clock.now for d in dues):
            continue
        future = [d for d in dues if d is not None]
        if not future or min(future) > until:
            clock.now = max(clock.now, until)
            return
        clock.now = min(future)


def outage(tmp: Path, client: httpx.Client, kind: str, *, coalesce: bool = True) -> None:
    up = threading.Event()
    receiver = Receiver(lambda body: (202, {}) if up.is_set() else (503, {}))
    clock = Clock(T0)
    store = AlertStateStore(tmp / f"outage-{kind}-{coalesce}.db")
    manager = AlertManager(store, ["pd"], clock=clock, repeat_interval_s=None)
    notifier: Notifier = (
        PagerDutyNotifier("KEY", client, name="pd", url=receiver.url, clock=clock)
        if kind == "pagerduty"
        else WebhookNotifier(receiver.url, client, name="pd", clock=clock, max_batch=50)
    )
    health = HealthRegistry()
    worker = DeliveryWorker(store, notifier, health, DeliverySettings(coalesce=coalesce), clock=clock)
    rng = random.Random(7)
    names = [f"slo-{i:02d}" for i in range(50)]
    burning = dict.fromkeys(names, False)
    changes = 0
    for tick in range(20):  # every 30 s for 10 minutes, the receiver down all along
        clock.now = T0 + tick * 30
        for name in rng.sample(names, 12 if tick else 50):
            burning[name] = not burning[name] if tick else True
        changes += sum(e.previous != e.current for e in manager.process(report(clock.now, burning)))
        run([worker], clock, T0 + (tick + 1) * 30 - 0.001)
    recovered = clock.now = T0 + 600
    up.set()
    run([worker], clock, recovered + 3600)
    delivered = [e for e in store.log() if e.ok]
    last = max(e.at for e in delivered)
    how = "final states only (coalesced)" if coalesce else "every transition in order (before coalescing)"
    print(f"outage ({kind}, {how}): 50 objectives, {changes} state changes while the receiver was down 10 min; "
          f"{health.snapshot()['pd'].coalesced} superseded notifications coalesced")
    if kind == "pagerduty":
        state, repeats = pd_state(receiver.bodies)
        open_redline = {manager.notification(r, "firing").dedup_key for r in store.records() if r.state == "firing"}
        open_receiver = {k for k, a in state.items() if a == "trigger"}
        print(f"  every change delivered {last - recovered:.1f} s after recovery (simulated; PagerDuty's "
              f"100 events/min; {len(receiver.bodies)} events, in order)")
        # a final state is lost when the receiver's last action for a dedup key is not Redline's final one
        final = {r[0]: ("trigger" if r[1] == "firing" else "resolve") for r in store.query(
            "SELECT dedup_key, status FROM intents WHERE id IN (SELECT max(id) FROM intents GROUP BY dedup_key)")}
        seen = {k: a for k, a in final.items() if k in state or a == "trigger"}
        lost = sum(state.get(k) != a for k, a in seen.items())
        print(f"  lost final states {lost}; repeated events {repeats}; open incidents: receiver "
              f"{len(open_receiver)}, Redline {len(open_redline)}, same dedup keys: {open_receiver == open_redline}")
    else:
        alerts = [a for b in receiver.bodies for a in b["alerts"]]
        print(f"  every change delivered {last - recovered:.1f} s after recovery (simulated; "
              f"{len(receiver.bodies)} messages of up to 50, {len(alerts)} alerts)")
    store.close()
    receiver.stop()


def slack(tmp: Path, client: httpx.Client, max_batch: int) -> None:
    clock = Clock(T0)
    last_ok = [float("-inf")]
    blocked_until = [float("-inf")]
    early = [0]
    seen = [0]

    def answer(body: Any) -> tuple[int, dict[str, str]]:
        seen[0] += 1
        if clock.now < blocked_until[0]:
            early[0] += 1
        if clock.now - last_ok[0] < 1.0:
            blocked_until[0] = clock.now + 3
            return 429, {"Retry-After": "3"}
        if seen[0] % 40 == 0:
            blocked_until[0] = clock.now + 10
            return 429, {"Retry-After": "10"}
        last_ok[0] = clock.now
        return 200, {}

    receiver = Receiver(answer)
    store = AlertStateStore(tmp / f"slack-{max_batch}.db")
    manager = AlertManager(store, ["slack"], clock=clock, repeat_interval_s=None)
    notifier = SlackNotifier(receiver.url, client, clock=clock, max_batch=max_batch)
    worker = DeliveryWorker(store, notifier, HealthRegistry(), DeliverySettings(), clock=clock)
    manager.process(report(T0, {f"slo-{i:03d}": True for i in range(500)}))
    times: list[float] = []
    original = notifier.send

    def timed(batch: Any) -> None:
        times.append(clock.now)
        original(batch)

    notifier.send = timed  # type: ignore[method-assign]
    run([worker], clock, T0 + 86400)
    got = {block["text"]["text"].split(" ")[0] for b in receiver.bodies for block in b["blocks"][1:]
           if block["type"] == "section" and "text" in block}
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(f"slack: 500 incidents, {max_batch} per message: {len(receiver.bodies)} messages in "
          f"{times[-1] - T0:.0f} s (simulated), lost {500 - len(got)}, shortest gap {min(gaps):.2f} s, "
          f"sent before Retry-After ran out {early[0]}, 429s {seen[0] - len(receiver.bodies)}")
    store.close()
    receiver.stop()


def latency(tmp: Path, client: httpx.Client) -> None:
    arrived = threading.Event()
    receiver = Receiver(lambda body: (arrived.set(), (202, {}))[1])
    store = AlertStateStore(tmp / "latency.db")
    manager = AlertManager(store, ["pd"], repeat_interval_s=None)
    outbox = Outbox([DeliveryWorker(store, WebhookNotifier(receiver.url, client, name="pd"), HealthRegistry())])
    manager.notify_on_commit(outbox.wake)
    outbox.start()
    figures = []
    for i in range(20):
        arrived.clear()
        started = time.perf_counter()
        manager.process(report(time.time(), {f"slo-{i}": True}))
        processed = time.perf_counter()
        if not arrived.wait(10):
            raise RuntimeError("the page never arrived")
        figures.append((processed - started, time.perf_counter() - started))
    outbox.shutdown()
    store.close()
    receiver.stop()
    tick = statistics.median(f[0] for f in figures) * 1000
    page = statistics.median(f[1] for f in figures) * 1000
    print(f"latency: evaluation returns in {tick:.1f} ms (median of 20); the receiver has the page "
          f"{page:.1f} ms after the burn is seen; add up to one evaluation interval (30 s) for it to be seen")


KILL_CHILD = """
import sys, httpx
from pathlib import Path
from bench.delivery import AlertManager, AlertStateStore, Clock, DeliveryWorker, HealthRegistry, PagerDutyNotifier
from bench.delivery import T0, schedule, report, run
db, url = sys.argv[1], sys.argv[2]
store = AlertStateStore(Path(db))
clock = Clock(T0)
manager = AlertManager(store, ["pd"], clock=clock, repeat_interval_s=None)
worker = DeliveryWorker(store, PagerDutyNotifier("KEY", httpx.Client(timeout=10), name="pd", url=url, clock=clock),
                        HealthRegistry(), clock=clock)
done = store.query("SELECT max(updated_at) FROM alerts")[0][0]
start = 0 if done is None else int((done - T0) // 30) + 1
clock.now = T0 + start * 30
run([worker], clock, clock.now)  # pending intents first
for tick in range(start, 40):
    clock.now = T0 + tick * 30
    manager.process(report(clock.now, schedule(tick)))
    run([worker], clock, clock.now)
run([worker], clock, clock.now + 3600)
print("done", flush=True)
"""


def schedule(tick: int) -> dict[str, bool]:
    """Which of 10 objectives burn at ``tick``: each flips every few ticks, on its own rhythm."""
    return {f"slo-{i}": (tick // (2 + i % 4) + i) % 2 == 0 for i in range(10)}


def kills(tmp: Path) -> None:
    receiver = Receiver(lambda body: (202, {}))
    db = tmp / "kills.db"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    rng = random.Random(11)
    killed = 0
    while killed < 20:
        proc = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(db), receiver.url], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            proc.wait(timeout=rng.uniform(0.4, 1.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
        assert proc.stdout is not None
        proc.stdout.close()
    final = subprocess.run([sys.executable, "-c", KILL_CHILD, str(db), receiver.url], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert final.stdout.strip() == "done", final.stderr[-2000:]
    store = AlertStateStore(db)
    expected = {(r[0], r[1]) for r in store.query("SELECT dedup_key, status FROM intents WHERE state != 'dropped'")}
    got = {(b["dedup_key"], "firing" if b["event_action"] == "trigger" else "resolved") for b in receiver.bodies}
    _, repeats = pd_state(receiver.bodies)
    pending = store.pending_counts()
    store.close()
    receiver.stop()
    flips = 0
    for i in range(10):
        states = [False] + [schedule(t)[f"slo-{i}"] for t in range(40)]
        flips += sum(a != b for a, b in itertools.pairwise(states))
    print(f"kills: 20 SIGKILLs at random points of evaluate/send/record; {flips} state changes in the schedule, "
          f"{len(expected)} in the outbox")
    print(f"  lost {len(expected - got)}, duplicate incidents {len(got - expected)}, re-sent events with the "
          f"same dedup key {repeats} (at least once), still pending {sum(pending.values())}")


def main() -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as name, httpx.Client(timeout=10.0) as client:
        tmp = Path(name)
        outage(tmp, client, "pagerduty", coalesce=False)
        outage(tmp, client, "pagerduty")
        outage(tmp, client, "webhook")
        slack(tmp, client, max_batch=10)
        slack(tmp, client, max_batch=1)
        latency(tmp, client)
        kills(tmp)


if __name__ == "__main__":
    main()
