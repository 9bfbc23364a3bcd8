"""Readiness: the conditions that make the agent's answers untrustworthy, each logged once.

A condition is a component (``alert_database``, ``data_directory``, ``store_writes``,
``evaluation``, ``notifier:<name>``) that is down, with the reason in words. ``set_down``
and ``set_up`` may be called on every tick: a condition logs one line when it starts and one
when it clears, never one per tick, so a garbage ``alerts.sqlite`` or a full disk is two lines
in the log, not a traceback every 30 seconds. ``/readyz`` and ``redline_component_up`` read
the same state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["STARTING", "Readiness"]

log = logging.getLogger("redline.agent")

STARTING = "starting:"
"""The prefix of a reason that only says the agent has not got that far yet (logged at INFO)."""

FIXED_COMPONENTS = ("alert_database", "data_directory", "store_writes", "evaluation")
"""Components always reported by ``redline_component_up`` (notifiers are added by name)."""


class Readiness(Collector):
    """Components and their state; also the collector of ``redline_ready`` and ``redline_component_up``.

    ``extra`` is asked at each read for conditions computed rather than set (the age of the
    last evaluation); it returns ``{component: reason}``.
    """

    def __init__(self, extra: Callable[[], dict[str, str]] = dict, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._down: dict[str, tuple[str, float]] = {}
        self._known: set[str] = set(FIXED_COMPONENTS)
        self._extra = extra
        self._clock = clock
        self._extra_down: set[str] = set()
        self._starting: set[str] = set()  # extra components down only because the agent is starting

    def know(self, component: str) -> None:
        """Report ``component`` as up until it is set down (so its gauge exists from the start)."""
        with self._lock:
            self._known.add(component)

    def set_down(self, component: str, reason: str) -> None:
        """Mark ``component`` down; logs when it was up (or its reason changed in kind)."""
        with self._lock:
            self._known.add(component)
            previous = self._down.get(component)
            self._down[component] = (reason, previous[1] if previous else self._clock())
        if previous is None:
            log.error("not ready: %s: %s", component, reason)

    def set_up(self, component: str) -> None:
        """Mark ``component`` up; logs when it was down."""
        with self._lock:
            previous = self._down.pop(component, None)
        if previous is not None:
            log.warning("ready again: %s (down for %.0f s)", component, self._clock() - previous[1])

    def reasons(self) -> dict[str, str]:
        """Every component down now, with its reason; empty when ready."""
        extra = self._extra()
        with self._lock:
            out = {c: reason for c, (reason, _) in self._down.items()}
            started, cleared = set(extra) - self._extra_down, self._extra_down - set(extra)
            self._extra_down = set(extra)
        for component in sorted(started):
            # An agent that has not evaluated yet is starting, not failing: said at INFO, both ways.
            starting = extra[component].startswith(STARTING)
            if starting:
                self._starting.add(component)
            log.log(logging.INFO if starting else logging.ERROR, "not ready: %s: %s", component, extra[component])
        for component in sorted(cleared):
            was_starting = component in self._starting
            self._starting.discard(component)
            log.log(logging.INFO if was_starting else logging.WARNING, "ready again: %s", component)
        out.update(extra)
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, object]:
        """What ``/readyz`` answers: ``{"ready": bool, "reasons": {component: reason}}``."""
        reasons = self.reasons()
        return {"ready": not reasons, "reasons": reasons}

    def collect(self) -> Iterator[Metric]:
        reasons = self.reasons()
        with self._lock:
            known = sorted(self._known | set(reasons))
        ready = GaugeMetricFamily("redline_ready", "1 when /readyz answers 200 (nothing below is down).")
        ready.add_metric([], 0.0 if reasons else 1.0)
        up = GaugeMetricFamily(
            "redline_component_up",
            "0 while a component makes the agent not ready (/readyz names why), else 1.",
            labels=["component"],
        )
        for component in known:
            up.add_metric([component], 0.0 if component in reasons else 1.0)
        yield from (ready, up)
