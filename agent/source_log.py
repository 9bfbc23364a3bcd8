"""How a source's failures reach the log, the metrics and readiness: once when they start, once
when they change, once when they clear, never once per collection.

A collection over one of the source's limits is also counted per source and limit
(``redline_source_limit_failures_total``) and is the readiness condition ``source_limit:<source>``
while it lasts (``/readyz`` names the breach; the readiness log has its two lines).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from redline.agent.readiness import Readiness
from redline.collectors.base import SourceHealth
from redline.collectors.limits import breached_limit

__all__ = ["SourceLog"]

log = logging.getLogger("redline.agent")


class SourceLog:
    """The failing state of every source, for the log and, for a limit breach, for readiness."""

    def __init__(self, readiness: Readiness, limit_failures: Counter) -> None:
        self._readiness = readiness
        self._limit_failures = limit_failures
        self._failing: dict[str, str] = {}  # source -> the reason last logged while it fails

    def note(self, source: str, health: SourceHealth) -> None:
        """Take one collection's health into account."""
        self.note_limits(source, health)
        self.log_change(source, health)

    def note_limits(self, source: str, health: SourceHealth) -> None:
        """A collection over one of the source's limits: counted per source and limit, and the
        readiness condition ``source_limit:<source>`` (its reason on ``/readyz``, one log line
        when it starts and one when it clears) until a collection is not over a limit."""
        limit = None if health.ok else breached_limit(health.error)
        if limit is None:
            self._readiness.set_up(f"source_limit:{source}")
            return
        self._limit_failures.labels(source, limit).inc()
        self._readiness.set_down(f"source_limit:{source}", health.error or limit)

    def log_change(self, source: str, health: SourceHealth) -> None:
        """One line when ``source`` starts failing (with why), one when the reason changes,
        one when it recovers: a target down for an hour is two lines, not one per scrape
        (every failure is still counted in ``redline_source_failures_total``). A breach of a
        limit is logged by its readiness condition (``note_limits``), and one breach differs
        from the last only if another limit broke (a count that changes is the same breach)."""
        previous = self._failing.get(source)
        if not health.ok:
            reason = health.error or "failed"
            limit = breached_limit(reason)
            if previous is not None and (limit or reason) == (breached_limit(previous) or previous):
                return
            self._failing[source] = reason
            if limit is not None:
                return
            if previous is None:
                log.warning("source %s is failing: %s", source, reason)
            else:
                log.warning("source %s is still failing, now: %s", source, reason)
        elif previous is not None:
            del self._failing[source]
            if breached_limit(previous) is None:
                log.warning("source %s recovered (was: %s)", source, previous)
