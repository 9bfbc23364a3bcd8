"""Shared pieces for the alerts tests: report builders, a fake clock and a real webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from redline.alerts.classify import Backoff, Verdict, VerdictKind
from redline.alerts.delivery import DeliverySettings, DeliveryWorker
from redline.alerts.health import HealthRegistry
from redline.alerts.manager import AlertEvent, AlertManager
from redline.alerts.notifiers import DeliveryFailed, Notification, Notifier
from redline.alerts.routing import Router
from redline.alerts.state import AlertStateStore
from redline.slo.results import ObjectiveResult, Status, StatusReport
from redline.slo.spec import BURN_WINDOWS

DAY_S = 86400.0
T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


def objective(
    name: str = "api-availability",
    burn: Mapping[str, float | None] | None = None,
    *,
    status: Status = "warning",
    window_seconds: float = 30 * DAY_S,
    reason: str = "error ratio 2.5% over 1h against a 0.1% budget",
    budget_remaining: float | None = 0.75,
    error: str | None = None,
) -> ObjectiveResult:
    """An availability objective whose burn rates are 0 except those given."""
    rates: dict[str, float | None] = dict.fromkeys(BURN_WINDOWS, 0.0)
    rates.update(burn or {})
    return ObjectiveResult(
        name=name,
        kind="availability",
        dimension="users",
        target=0.999,
        window="30d" if window_seconds == 30 * DAY_S else f"{int(window_seconds // DAY_S)}d",
        window_seconds=window_seconds,
        value=0.99,
        budget_remaining=budget_remaining,
        burn_rates=rates,
        time_to_breach_seconds=3600.0,
        status=status,
        reason=reason,
        error=error,
    )


PAGE_BURN: dict[str, float | None] = {
    "5m": 25.0, "30m": 20.0, "1h": 20.0, "2h": 10.0, "6h": 4.0, "1d": 2.0, "3d": 0.5,
}
"""Burns that meet the 14.4× page condition only (1h and 5m above 14.4, 6h below 6)."""


def report(*objectives: ObjectiveResult, at: float = T0) -> StatusReport:
    """A report holding ``objectives`` (dimensions are not read by alerts)."""
    return StatusReport(at=at, dimensions=(), objectives=objectives)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers with scripted statuses.

    Until ``start()`` its socket is bound but not listening, so connections are refused: a
    receiver that is down, on a port nobody else can take.
    """

    server: ThreadingHTTPServer
    statuses: list[int | tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]] = field(
        default_factory=list
    )
    """Scripted answers, first one first: a status, with headers, and with a body; then 200."""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)
    """Cleared, the receiver holds each answer until it is set again (a slow receiver)."""
    thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.server.server_activate()
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(timeout=5)
            self.thread = None
        self.server.server_close()

    def bodies(self) -> list[Any]:
        with self.lock:
            return [json.loads(body) for _, _, body in self.requests]

    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def wait_for(self, count: int, timeout_s: float) -> bool:
        """Block until ``count`` requests arrived (True) or ``timeout_s`` passed (False)."""
        with self.lock:
            return self.lock.wait_for(lambda: len(self.requests) >= count, timeout=timeout_s)


def _handler(receiver_ref: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = receiver_ref[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with rec.lock:
                rec.requests.append((self.path, dict(self.headers.items()), body))
                rec.lock.notify_all()
                scripted = rec.statuses.pop(0) if rec.statuses else 200
            rec.release.wait(timeout=30)
            if isinstance(scripted, int):
                status, headers, answer = scripted, {}, b""
            elif len(scripted) == 2:
                status, headers, answer = scripted[0], scripted[1], b""
            else:
                status, headers, answer = scripted  # type: ignore[misc]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    return Handler


def _make_receiver() -> Receiver:
    ref: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref), bind_and_activate=False)
    server.server_bind()
    rec = Receiver(server)
    rec.release.set()
    ref.append(rec)
    return rec


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver that is up."""
    rec = _make_receiver()
    rec.start()
    try:
        yield rec
    finally:
        rec.stop()


@pytest.fixture
def down_receiver() -> Iterator[Receiver]:
    """A receiver that refuses connections until the test calls ``start()``."""
    rec = _make_receiver()
    try:
        yield rec
    finally:
        rec.stop()


@pytest.fixture
def open_store() -> Iterator[Callable[[Path], AlertStateStore]]:
    """Opens alert stores and closes every one of them at the end of the test."""
    stores: list[AlertStateStore] = []

    def _open(path: Path) -> AlertStateStore:
        stores.append(AlertStateStore(path))
        return stores[-1]

    yield _open
    for store in stores:
        store.close()


class RecordingNotifier(Notifier):
    """Records what it is sent; fails the next ``fail`` sends (transiently unless ``permanent``)."""

    def __init__(
        self, name: str = "rec", fail: int = 0, permanent: bool = False, max_batch: int = 1,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.clock = clock
        self.times: list[float] = []
        """The clock's time at each notification sent (when given a clock)."""
        self.sent: list[Notification] = []
        self.batches: list[list[Notification]] = []
        self.fail = fail
        self.permanent = permanent
        self.max_batch = max_batch

    def send(self, notifications: Sequence[Notification]) -> None:
        if self.fail > 0:
            self.fail -= 1
            kind: VerdictKind = "permanent" if self.permanent else "retry"
            raise DeliveryFailed(f"notifier {self.name!r}: receiver unavailable", Verdict(kind, "receiver unavailable"))
        self.sent.extend(notifications)
        self.batches.append(list(notifications))
        if self.clock is not None:
            self.times.extend(self.clock() for _ in notifications)


NO_JITTER = Backoff(random=lambda: 0.5)
"""Backoff whose waits are exact: 0.5 s, 0.75 s, 1.125 s … up to 60 s."""


class Harness:
    """An alert manager and one delivery worker per notifier on one store, driven by a fake clock.

    ``deliver()`` steps every worker until none has an attempt due at the clock's time;
    ``run_until(t)`` also moves the clock from one due time to the next up to ``t``: hours of
    backoff in no time, without threads or sleeps.
    """

    def __init__(
        self,
        store: AlertStateStore,
        notifiers: Sequence[Notifier],
        clock: FakeClock,
        *,
        router: Router | None = None,
        settings: DeliverySettings | None = None,
        **manager_options: Any,
    ) -> None:
        self.store = store
        self.clock = clock
        self.health = HealthRegistry()
        self.manager = AlertManager(
            store, router if router is not None else [n.name for n in notifiers], clock=clock, **manager_options
        )
        chosen = settings if settings is not None else DeliverySettings(backoff=NO_JITTER)
        self.workers = [
            DeliveryWorker(store, n, self.health, chosen, clock=clock, firing=self.manager.firing_for)
            for n in notifiers
        ]

    def process(self, rep: StatusReport, *, deliver: bool = True) -> list[AlertEvent]:
        """Evaluate ``rep``, then (unless told not to) deliver what is due now."""
        events = self.manager.process(rep)
        if deliver:
            self.deliver()
        return events

    def deliver(self, max_steps: int = 10_000) -> None:
        for _ in range(max_steps):
            dues = [w.step() for w in self.workers]
            if all(d is None or d > self.clock.now for d in dues):
                return
        raise AssertionError("delivery did not settle")

    def run_until(self, until: float, max_steps: int = 100_000) -> None:
        """Deliver, moving the clock to each next due time, until nothing is due before ``until``."""
        for _ in range(max_steps):
            dues = [w.step() for w in self.workers]
            future = [d for d in dues if d is not None and d > self.clock.now]
            if any(d is not None and d <= self.clock.now for d in dues):
                continue
            if not future or min(future) > until:
                self.clock.now = max(self.clock.now, until)
                return
            self.clock.now = min(future)
        raise AssertionError("delivery did not settle")
