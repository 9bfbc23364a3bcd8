"""The delivery side of the outbox: one worker thread per notifier sends its intents in order.

The evaluation only writes intents (``AlertStateStore.save_many``) and calls ``Outbox.wake()``;
it never waits on a network call. Each notifier has its own worker, so a slow or dead receiver
delays only its own queue. Every state change (a trigger, a resolve) is delivered once, in order
per incident, even one that opened and closed while the receiver was down; only repeats of an
unchanged state may be collapsed or dropped. A worker, at each ``step()``:

1. takes its oldest pending intent (intents left pending by a crash are simply the queue at
   start, replayed with the same dedup key); when it is due, the pending repeats a newer intent
   of the same incident follows are first collapsed (``outbox_sql.collapse_repeats``);
2. waits until it is due: its retry time, the notifier's rate limit (``min_interval_s`` with
   its ``burst``, ``redline.alerts.rate_limit``) or a 429's ``Retry-After``, and for a new
   incident the group window (``group_wait_s``);
3. makes one attempt with as many due intents as the notifier takes in one message
   (``max_batch``), in queue order: those sharing the head's ``group_by`` labels, firing and
   resolved alike, so a backlog after an outage goes out in a few messages; an intent left out
   holds back the later intents of its incident, so each incident's changes stay in order;
4. the verdict (``redline.alerts.classify``) decides: sent → marked sent in the transaction
   that logs it; retry → backoff 0.5 s ×1.5 with jitter up to 60 s, until ``give_up_after_s``
   since the first attempt (then ``given_up``, counted, announced); 429 → at least
   ``Retry-After``; permanent → ``failed``, the notifier marked broken.

Everything is reported to a ``HealthRegistry``. A notifier with ``resend_interval_s``
(Alertmanager) also re-posts the currently firing alerts routed to it when its queue is empty.
``step()`` is public so a test drives a worker with a fake clock, without threads or sleeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from redline.alerts.classify import Backoff, Verdict
from redline.alerts.health import HealthRegistry
from redline.alerts.notifiers import DeliveryFailed, Notification, Notifier
from redline.alerts.outbox_sql import INTENT_COLUMNS, Intent, collapse_repeats, intent_from_row
from redline.alerts.rate_limit import RateLimit
from redline.alerts.state import AlertStateStore
from redline.kernel.errors import StoreError

__all__ = ["DeliverySettings", "DeliveryWorker", "Outbox"]

_log = logging.getLogger(__name__)

FiringProvider = Callable[[str], Sequence[Notification]]
"""Given a notifier's name, the firing alerts routed to it (for re-posting)."""


@dataclass(frozen=True)
class DeliverySettings:
    """How one notifier's queue is worked."""

    give_up_after_s: float = 3600.0
    backoff: Backoff = field(default_factory=Backoff)
    group_wait_s: float = 0.0
    group_by: tuple[str, ...] = ("alertname", "severity")
    """Notifications that share these labels may share a message."""


class DeliveryWorker:
    """Sends one notifier's intents, one attempt per ``step()``. Not thread safe: one thread steps it."""

    def __init__(
        self,
        store: AlertStateStore,
        notifier: Notifier,
        health: HealthRegistry,
        settings: DeliverySettings = DeliverySettings(),
        *,
        clock: Callable[[], float] = time.time,
        firing: FiringProvider | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.notifier = notifier
        self._store = store
        self._health = health
        self._settings = settings
        self._clock = clock
        self._firing = firing
        self._log = logger if logger is not None else _log
        self._free_at = 0.0
        """Earliest next message after the last 429's Retry-After."""
        self._limit = RateLimit()
        self._resend_at: float | None = None
        self._closed = threading.Event()
        health.know(notifier.name)

    @property
    def name(self) -> str:
        """The notifier's name."""
        return self.notifier.name

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed.is_set()

    def pending(self, limit: int = 1000) -> list[Intent]:
        """This notifier's pending intents, oldest first."""
        rows = self._store.query(
            f"SELECT {INTENT_COLUMNS} FROM intents WHERE notifier = ? AND state = 'pending' ORDER BY id LIMIT ?",
            (self.name, limit),
        )
        return [intent_from_row(r) for r in rows]

    def _due_queue(self, now: float, batch_limit: int) -> tuple[list[Intent] | None, float | None]:
        """The pending queue when its head is due at ``now``; else no queue, and when to step
        again (an empty queue: what resending repeats says)."""
        queue = self.pending(limit=batch_limit + 100)
        if not queue:
            return None, self._resend(now)
        due = self._due(queue[0], batch_limit)
        return (queue, None) if now >= due else (None, due)

    def step(self) -> float | None:
        """Make the one attempt that is due now, if any; return when to step again (``None``: when woken)."""
        now = self._clock()
        batch_limit = max(1, self.notifier.max_batch)
        queue, wait = self._due_queue(now, batch_limit)
        if queue is None:
            return wait
        if self._collapse(now):
            queue, wait = self._due_queue(now, batch_limit)
            if queue is None:
                return wait
        batch = self._batch(queue, now, batch_limit)
        verdict = self._attempt([i.notification for i in batch])
        after = self._clock()
        self._settle(batch, verdict, after)
        return after

    def _free(self) -> float:
        """When the next message may go: the rate limit with its burst, and the last Retry-After."""
        return max(self._free_at, self._limit.free_at(self.notifier.burst, self.notifier.min_interval_s))

    def _due(self, head: Intent, batch_limit: int) -> float:
        """When the head of the queue may go: its retry time, the rate limit, a new incident's group window."""
        due = max(head.next_at, self._free())
        if batch_limit > 1 and head.tries == 0:
            due = max(due, head.created_at + self._settings.group_wait_s)
        return due

    def _collapse(self, at: float) -> int:
        """Settle the pending repeats a newer intent of the same incident follows
        (``outbox_sql.collapse_repeats``): a repeat says nothing the newer one does not."""
        if self._closed.is_set():
            return 0
        with self._store.transaction() as conn:
            count = collapse_repeats(conn, self.name, at)
        if count:
            self._health.coalesced(self.name, count)
            self._log.info("notifier %s: %d superseded repeat notifications collapsed", self.name, count)
        return count

    def _batch(self, queue: Sequence[Intent], now: float, limit: int) -> list[Intent]:
        """The head and the due intents that may share its message, in queue order.

        An intent may join when it is due (its retry time passed), shares the head's ``group_by``
        labels, and opened within the head's group window or has waited out its own (a backlog).
        One that may not join holds back every later intent of its incident (dedup key), so an
        incident's trigger never travels after its own resolve.
        """
        head = queue[0]
        batch = [head]
        held: set[str] = set()
        wait = self._settings.group_wait_s
        first = head.notification.labels
        for intent in queue[1:]:
            if len(batch) >= limit:
                break
            labels = intent.notification.labels
            joins = (
                intent.dedup_key not in held
                and intent.next_at <= now
                and (intent.created_at <= head.created_at + wait or intent.created_at + wait <= now)
                and all(labels.get(k) == first.get(k) for k in self._settings.group_by)
            )
            if joins:
                batch.append(intent)
            else:
                held.add(intent.dedup_key)
        return batch

    def _attempt(self, notifications: Sequence[Notification]) -> Verdict:
        try:
            self.notifier.send(notifications)
        except DeliveryFailed as exc:
            return exc.verdict
        except Exception as exc:  # a broken notifier must not stop its worker
            self._log.exception("notifier %s failed unexpectedly", self.name)
            return Verdict("retry", f"unexpected {type(exc).__name__}: {exc}"[:200])
        return Verdict("sent", "delivered")

    def close(self) -> None:
        """Record nothing from now on: an attempt still in flight when the agent stops leaves its
        intents pending (sent again after the restart, with the same dedup key)."""
        self._closed.set()

    def _settle(self, batch: Sequence[Intent], verdict: Verdict, at: float) -> None:
        """Record the attempt's outcome for every intent of ``batch`` in one transaction."""
        if self._closed.is_set():
            return
        self._limit.record(at, self.notifier.burst)
        give_up = self._settings.give_up_after_s
        outcomes: list[tuple[Intent, str]] = []
        with self._store.transaction() as conn:
            for intent in batch:
                tries = intent.tries + 1
                first = intent.first_try_at if intent.first_try_at is not None else at
                ok = verdict.kind == "sent"
                if ok:
                    state = "sent"
                elif verdict.kind == "permanent":
                    state = "failed"
                elif at - first >= give_up:
                    state = "given_up"
                else:
                    state = "pending"
                next_at = at
                if state == "pending":
                    next_at = at + self._settings.backoff.delay_s(tries)
                    if verdict.kind == "rate_limited" and verdict.wait_s is not None:
                        next_at = max(next_at, at + verdict.wait_s)
                        self._free_at = max(self._free_at, at + verdict.wait_s)
                conn.execute(
                    "UPDATE intents SET state = ?, tries = ?, first_try_at = ?, next_at = ?, last_error = ?, "
                    "done_at = ? WHERE id = ?",
                    (state, tries, first, next_at, None if ok else verdict.reason,
                     None if state == "pending" else at, intent.id),
                )
                self._store.log_attempt(
                    conn, intent.key, self.name, intent.status, ok=ok, error=None if ok else verdict.reason,
                    attempt=tries, at=at,
                )
                outcomes.append((intent, state))
        self._report(outcomes, verdict, at)

    def _report(self, outcomes: Sequence[tuple[Intent, str]], verdict: Verdict, at: float) -> None:
        sent = [i for i, state in outcomes if state == "sent"]
        if sent:
            self._health.sent(self.name, len(sent), at)
            for intent in sent:
                self._log.info("alert %s: %s notification sent via %s", intent.key, intent.status, self.name)
        for intent, state in outcomes:
            if state == "failed":
                self._log.error(
                    "alert %s: %s notification via %s failed permanently, not retried: %s",
                    intent.key, intent.status, self.name, verdict.reason,
                )
                self._health.failed(self.name, verdict.reason, at, intent.key)
            elif state == "given_up":
                reason = f"gave up after {intent.tries + 1} attempts; last error: {verdict.reason}"
                self._log.error("alert %s: %s notification via %s: %s", intent.key, intent.status, self.name, reason)
                self._health.gave_up(self.name, reason, at, intent.key)
            elif state == "pending":
                self._log.warning(
                    "alert %s: %s notification via %s failed (attempt %d), will retry: %s",
                    intent.key, intent.status, self.name, intent.tries + 1, verdict.reason,
                )
                self._health.retried(self.name, verdict.reason, at)

    def _resend(self, now: float) -> float | None:
        """Re-post the firing alerts when the notifier asks for it and it is due."""
        interval = self.notifier.resend_interval_s
        if interval is None or self._firing is None:
            return None
        if self._resend_at is None:
            self._resend_at = now + interval  # the queue just drained: what it sent is fresh
        if now < max(self._resend_at, self._free()):
            return max(self._resend_at, self._free())
        firing = list(self._firing(self.name))
        self._resend_at = now + interval
        for start in range(0, len(firing), max(1, self.notifier.max_batch)):
            chunk = firing[start : start + max(1, self.notifier.max_batch)]
            if self._free() > self._clock():
                break  # the rate limit's burst is spent: the rest waits for the next re-post
            verdict = self._attempt(chunk)
            at = self._clock()
            self._limit.record(at, self.notifier.burst)
            if verdict.kind == "sent":
                self._health.sent(self.name, len(chunk), at)
            else:
                self._log.warning("re-posting firing alerts via %s failed: %s", self.name, verdict.reason)
                break
        return self._resend_at


class Outbox:
    """Runs one ``DeliveryWorker`` per notifier on its own thread; ``wake()`` after writing intents."""

    def __init__(self, workers: Sequence[DeliveryWorker], *, clock: Callable[[], float] = time.time) -> None:
        self.workers: Mapping[str, DeliveryWorker] = {w.name: w for w in workers}
        self._clock = clock
        self._wake = {name: threading.Event() for name in self.workers}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker threads (pending intents from before a restart go first); idempotent."""
        if self._threads or self._stop.is_set():
            return
        for name, worker in self.workers.items():
            thread = threading.Thread(target=self._run, args=(worker,), name=f"redline-notify-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def wake(self) -> None:
        """Tell every worker that new intents may be waiting."""
        for event in self._wake.values():
            event.set()

    def _run(self, worker: DeliveryWorker) -> None:
        wake = self._wake[worker.name]
        while not self._stop.is_set():
            wake.clear()
            if worker.closed:
                return
            try:
                due = worker.step()
            except StoreError as exc:
                _log.error("notifier %s: the alert database failed: %s", worker.name, exc)
                due = self._clock() + 5.0
            except Exception:  # containment: the worker lives on
                _log.exception("notifier %s: delivery step failed", worker.name)
                due = self._clock() + 5.0
            if due is None:
                wake.wait()
            else:
                timeout = due - self._clock()
                if timeout > 0:
                    wake.wait(min(timeout, 60.0))

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the workers (an attempt in flight may finish); pending intents stay for the next start."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for worker in self.workers.values():
            worker.close()  # a send still in flight must not write after the database is closed
            try:
                worker.notifier.shutdown(timeout_s)
            except Exception:
                _log.exception("notifier %s failed to shut down", worker.name)
