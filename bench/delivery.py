"""Delivery benchmark: the outbox against receivers on 127.0.0.1 under faults (figures, not tests).

Run: ``python -m bench.delivery``. Scenarios (a fake clock drives the workers where minutes of
backoff or rate limit are simulated; real HTTP everywhere):

- outage: a PagerDuty-, Slack-, webhook- and Alertmanager-shaped receiver down (503) for 10
  minutes while 50 objectives change state (``incidents``: each opens once, half close again, 75
  changes; ``flapping``: 278 changes); figures: when the receiver is noticed back (the backoff's
  next retry), how long the backlog takes after that, how many requests carry how many of the
  changes owed, whether every incident got every change once and in order, open incidents per
  dedup key at the receiver against Redline's, and the receiver's rate limit kept. Each beside
  the baseline commit's coalescing (only final states), run from its ``git archive`` in a child
  process with this file's same scenario code;
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

import datetime
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
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from redline.alerts.alertmanager import AlertmanagerNotifier
from redline.alerts.classify import Backoff
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


RECEIVERS = ("pagerduty", "slack", "webhook", "alertmanager")
BASELINE_COMMIT = "75da7f5ca9fdcbcf586682ae79d42c07905fbe28"
"""main before every state change was owed (coalescing: a resolve superseded pending triggers)."""


def outage_schedule(scenario: str) -> list[dict[str, bool]]:
    """Which of 50 objectives burn at each 30 s tick of a 10-minute outage.

    ``incidents``: each objective opens once at a random tick and half of them close again before
    the end (75 state changes); ``flapping``: all open at the start, then 12 random ones flip at
    every tick (278 state changes).
    """
    rng = random.Random(7)
    names = [f"slo-{i:02d}" for i in range(50)]
    if scenario == "incidents":
        opens = {n: rng.randrange(0, 18) for n in names}
        closes = {n: rng.randrange(opens[n] + 1, 20) for n in names[::2]}
        return [{n: opens[n] <= t < closes.get(n, 99) for n in names} for t in range(20)]
    burning = dict.fromkeys(names, False)
    out = []
    for tick in range(20):
        for name in rng.sample(names, 12 if tick else 50):
            burning[name] = not burning[name] if tick else True
        out.append(dict(burning))
    return out


def _received(kind: str, body: Any, now: float) -> list[tuple[str, str, str]]:
    """(objective or dedup key, incident, status) for each change a receiver got in one request."""
    if kind == "pagerduty":
        status = "firing" if body["event_action"] == "trigger" else "resolved"
        return [(body["dedup_key"], body["dedup_key"], status)]
    if kind == "slack":  # the fallback text: one headline per change, "FIRING page: slo-01 (users) …"
        out = []
        for line in body["text"].split("\n"):
            head, rest = line.split(": ", 1)
            out.append((rest.split(" ", 1)[0], "", "firing" if head.startswith("FIRING") else "resolved"))
        return out
    alerts = body["alerts"] if kind == "webhook" else body
    out = []
    for a in alerts:
        if kind == "webhook":
            status = a["status"]
        else:  # Alertmanager: resolved when endsAt is not in the future
            ends = datetime.datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")).timestamp()
            status = "resolved" if ends <= now else "firing"
        out.append((a["labels"]["slo"], a["startsAt"], status))
    return out


def outage_figures(tmp: str, kind: str, scenario: str) -> dict[str, Any]:
    """A ``kind``-shaped receiver down (503) for 10 minutes while the scenario's incidents change state.

    Only APIs that the baseline commit has too are used here, so the same code measures both.
    """
    clock = Clock(T0)
    up = threading.Event()
    window: list[float] = []  # send times of the events of the last minute (PagerDuty's limit)
    over = [0]
    last_ok = [float("-inf")]
    limited = [0]

    def answer(body: Any) -> tuple[int, dict[str, str]]:
        if not up.is_set():
            return 503, {}
        if kind == "slack" and clock.now - last_ok[0] < 1.0:
            limited[0] += 1
            return 429, {"Retry-After": "1"}
        last_ok[0] = clock.now
        if kind == "pagerduty":
            window[:] = [t for t in window if t > clock.now - 60] + [clock.now]
            over[0] += len(window) > 100
        return 202 if kind == "pagerduty" else 200, {}

    receiver = Receiver(answer)
    store = AlertStateStore(Path(tmp) / f"outage-{kind}-{scenario}.db")
    manager = AlertManager(store, ["n"], clock=clock, repeat_interval_s=None)
    url = receiver.url
    notifier: Notifier
    if kind == "pagerduty":
        notifier = PagerDutyNotifier("KEY", httpx.Client(timeout=10), name="n", url=url, clock=clock)
    elif kind == "slack":
        notifier = SlackNotifier(url, httpx.Client(timeout=10), name="n", clock=clock)
    elif kind == "webhook":
        notifier = WebhookNotifier(url, httpx.Client(timeout=10), name="n", clock=clock)
    else:
        notifier = AlertmanagerNotifier(url, httpx.Client(timeout=10), name="n", clock=clock)
    settings = DeliverySettings(backoff=Backoff(random=random.Random(3).random))
    worker = DeliveryWorker(store, notifier, HealthRegistry(), settings, clock=clock)
    changes = 0
    for tick, burning in enumerate(outage_schedule(scenario)):
        clock.now = T0 + tick * 30
        changes += sum(e.previous != e.current for e in manager.process(report(clock.now, burning)))
        run([worker], clock, T0 + (tick + 1) * 30 - 0.001)
    recovered = clock.now = T0 + 600
    up.set()
    received: list[tuple[str, str, str]] = []
    requests = [0]
    original = receiver.answer

    def keep(body: Any) -> tuple[int, dict[str, str]]:
        status, headers = original(body)
        if 200 <= status < 300:
            requests[0] += 1
            received.extend(_received(kind, body, clock.now))
        return status, headers

    receiver.answer = keep
    run([worker], clock, recovered + 3600)
    ok = [e.at for e in store.log() if e.ok]
    expected: dict[str, list[str]] = {}  # per objective (PagerDuty: per dedup key), every change in order
    for key, status, dedup in store.query("SELECT key, status, dedup_key FROM intents WHERE repeat = 0 ORDER BY id"):
        expected.setdefault(dedup if kind == "pagerduty" else key.split("/")[0], []).append(status)
    got: dict[str, list[str]] = {}
    last: dict[tuple[str, str], str] = {}
    for name, inc, status in received:
        got.setdefault(name, []).append(status)
        last[(name, inc)] = status
    open_redline = []
    for r in store.records():
        if r.state == "firing":
            n = manager.notification(r, "firing")
            open_redline.append(n.dedup_key if kind == "pagerduty" else r.slo)
    open_receiver = [name for (name, _), status in last.items() if status == "firing"]
    # a final state is right when the receiver's last word is Redline's (never told of it: closed)
    finals_ok = sum((got.get(k) or ["resolved"])[-1] == v[-1] for k, v in expected.items())
    store.close()
    receiver.stop()
    return {
        "changes": changes,
        "owed": sum(len(v) for v in expected.values()),
        "delivered": len(received),
        "in_order_once": sum(got.get(k, []) == v for k, v in expected.items()),
        "keys": len(expected),
        "finals_ok": finals_ok,
        "messages": requests[0],
        "first_s": min(t for t in ok if t >= recovered) - recovered,
        "all_s": max(ok) - recovered,
        "open_receiver": len(open_receiver),
        "open_redline": len(open_redline),
        "one_open_per_key": sorted(open_receiver) == sorted(open_redline)
        and len(set(open_receiver)) == len(open_receiver),
        "over_limit": over[0] if kind == "pagerduty" else limited[0],
    }


BASELINE_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench_delivery_baseline", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
import redline
assert redline.__file__.startswith(sys.argv[2]), redline.__file__
print(json.dumps(mod.outage_figures(sys.argv[3], sys.argv[4], sys.argv[5])))
"""


def baseline_tree(tmp: Path) -> Path | None:
    """The baseline commit's code, extracted with ``git archive`` (None when this is no git checkout)."""
    root = Path(__file__).resolve().parents[1]
    dest = tmp / "baseline"
    dest.mkdir()
    try:
        tar = subprocess.run(
            ["git", "-C", str(root), "archive", BASELINE_COMMIT, "redline", "alerts", "slo", "agent",
             "collectors", "dashboard"], capture_output=True, check=True, timeout=60,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return dest


def baseline_figures(tree: Path, tmp: Path, kind: str, scenario: str) -> dict[str, Any]:
    """``outage_figures`` of this file run against the baseline commit's code, in a child process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", BASELINE_CHILD, __file__, str(tree), str(tmp), kind, scenario],
        cwd=tree, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _outage_line(label: str, f: Mapping[str, Any], kind: str) -> str:
    """One result: when the receiver was noticed back (the backoff's next retry: under 60 s, by
    chance of phase), how long the backlog then took, and what arrived."""
    limit = (f"; {f['over_limit']} events over 100 in a minute" if kind == "pagerduty"
             else f"; {f['over_limit']} 429s" if kind == "slack" else "")
    drain = f["all_s"] - f["first_s"]
    return (
        f"  {label}: noticed back +{f['first_s']:.1f} s, backlog sent in {drain:.1f} s more: all final states "
        f"+{f['all_s']:.1f} s after recovery (at worst 60 + {drain:.1f} s); {f['messages']} requests carrying "
        f"{f['delivered']} of {f['owed']} changes; every change once in order for {f['in_order_once']}/{f['keys']} "
        f"incidents, final state right {f['finals_ok']}/{f['keys']}; open incidents {f['open_receiver']} "
        f"(Redline {f['open_redline']}), one per key: {f['one_open_per_key']}{limit}"
    )


def outage(tmp: Path) -> None:
    """Every receiver shape, both scenarios, this code beside the baseline commit's (same run)."""
    tree = baseline_tree(tmp)
    for scenario in ("incidents", "flapping"):
        for kind in RECEIVERS:
            mine = outage_figures(str(tmp), kind, scenario)
            print(f"outage ({scenario}): {kind}-shaped receiver down 10 min while 50 objectives make "
                  f"{mine['changes']} state changes")
            print(_outage_line("every change", mine, kind))
            if tree is None:
                print("  baseline: not measured (no git checkout)")
                continue
            base_tmp = tmp / f"base-{kind}-{scenario}"
            base_tmp.mkdir()
            print(_outage_line(f"baseline {BASELINE_COMMIT[:7]} (coalescing)",
                               baseline_figures(tree, base_tmp, kind, scenario), kind))


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
        outage(tmp)
        slack(tmp, client, max_batch=10)
        slack(tmp, client, max_batch=1)
        latency(tmp, client)
        kills(tmp)


if __name__ == "__main__":
    main()
