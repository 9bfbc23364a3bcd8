"""How each notifier is doing, for ``/metrics``, ``/readyz`` and meta-alerts.

The delivery workers report every outcome here. A notifier is *broken* after a permanent
failure, until it delivers again; a give-up (retried until ``give_up_after``) is counted and
announced but does not by itself mark it broken. Listeners (the agent's readiness, the alert
policy's meta-alerts) get a ``NotifierEvent`` when a notifier breaks, gives up on an intent,
drops repeats, or recovers; they are called on the worker's thread and must not block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["FAILING_AFTER", "HealthRegistry", "NotifierEvent", "NotifierHealth"]

_log = logging.getLogger(__name__)

EventKind = Literal["broken", "failing", "gave_up", "recovered", "dropped"]

FAILING_AFTER = 3
"""Transient failures in a row after which a ``failing`` event is sent (not ready, not yet broken)."""


@dataclass(frozen=True)
class NotifierHealth:
    """Counters and state of one notifier since the agent started."""

    name: str
    broken: bool = False
    reason: str = ""
    sent: int = 0
    retried: int = 0
    failed: int = 0
    """Intents given up as permanent failures."""
    given_up: int = 0
    dropped: int = 0
    coalesced: int = 0
    """Pending repeats settled unsent because a newer notification of the same incident follows them."""
    consecutive_failures: int = 0
    last_success_at: float | None = None


@dataclass(frozen=True)
class NotifierEvent:
    """A change worth telling someone about: ``broken``, ``gave_up``, ``dropped`` or ``recovered``."""

    notifier: str
    kind: EventKind
    reason: str
    at: float
    key: str = ""
    """The alert key the event is about (empty for ``recovered``/``dropped``)."""


class HealthRegistry:
    """Thread-safe notifier health; ``listen()`` registers a callback for ``NotifierEvent``s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health: dict[str, NotifierHealth] = {}
        self._listeners: list[Callable[[NotifierEvent], None]] = []

    def know(self, name: str) -> None:
        """Report ``name`` (healthy, all counters 0) until something happens to it."""
        with self._lock:
            self._health.setdefault(name, NotifierHealth(name))

    def listen(self, callback: Callable[[NotifierEvent], None]) -> None:
        """Call ``callback`` with every event from now on."""
        with self._lock:
            self._listeners.append(callback)

    def snapshot(self) -> dict[str, NotifierHealth]:
        """Every known notifier's health, by name."""
        with self._lock:
            return dict(self._health)

    def _update(
        self, name: str, event: NotifierEvent | None, add: dict[str, int], **changes: object
    ) -> None:
        """Add ``add`` to counters and set ``changes``, then tell the listeners about ``event``."""
        with self._lock:
            current = self._health.get(name, NotifierHealth(name))
            counts = {k: getattr(current, k) + v for k, v in add.items()}
            self._health[name] = replace(current, **counts, **changes)  # type: ignore[arg-type]
            listeners = tuple(self._listeners)
        if event is not None:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # a listener must not stop delivery
                    _log.exception("notifier health listener failed on %s", event)

    def sent(self, name: str, count: int, at: float) -> None:
        """``count`` notifications delivered by one 2xx; clears ``broken``."""
        current = self.snapshot().get(name, NotifierHealth(name))
        was_down = current.broken or current.consecutive_failures >= FAILING_AFTER or bool(current.reason)
        event = NotifierEvent(name, "recovered", "delivered again", at) if was_down else None
        self._update(name, event, {"sent": count}, broken=False, reason="", last_success_at=at,
                     consecutive_failures=0)

    def retried(self, name: str, reason: str, at: float) -> None:
        """One transient failure that will be retried; the ``FAILING_AFTER``-th in a row sends ``failing``."""
        streak = self.snapshot().get(name, NotifierHealth(name)).consecutive_failures + 1
        event = (NotifierEvent(name, "failing", f"failed {streak} times in a row: {reason}", at)
                 if streak == FAILING_AFTER else None)
        self._update(name, event, {"retried": 1, "consecutive_failures": 1})

    def failed(self, name: str, reason: str, at: float, key: str) -> None:
        """A permanent failure: the notifier is broken until it delivers again."""
        self._update(name, NotifierEvent(name, "broken", reason, at, key), {"failed": 1}, broken=True, reason=reason)

    def gave_up(self, name: str, reason: str, at: float, key: str) -> None:
        """An intent retried until its give-up time without a 2xx."""
        self._update(name, NotifierEvent(name, "gave_up", reason, at, key), {"given_up": 1}, reason=reason)

    def dropped(self, name: str, count: int, at: float) -> None:
        """``count`` repeat notifications dropped (queue full or already queued)."""
        if count:
            self._update(name, NotifierEvent(name, "dropped", f"{count} repeats dropped", at), {"dropped": count})

    def coalesced(self, name: str, count: int) -> None:
        """``count`` superseded repeats settled unsent (no event: every state change still goes out)."""
        if count:
            self._update(name, None, {"coalesced": count})
