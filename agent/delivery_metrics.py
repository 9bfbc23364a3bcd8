"""``redline_notifier_*`` on ``/metrics``: each notifier's health, outcomes and queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from redline.alerts.health import HealthRegistry

__all__ = ["NotifierCollector"]


class NotifierCollector(Collector):
    """Reads the health registry and, through ``pending``, each notifier's queued intents."""

    def __init__(self, health: HealthRegistry, pending: Callable[[], Mapping[str, int]]) -> None:
        self._health = health
        self._pending = pending

    def collect(self) -> Iterator[Metric]:
        snapshot = self._health.snapshot()
        broken = GaugeMetricFamily(
            "redline_notifier_broken", "1 while a notifier is broken (a permanent failure, until it delivers again).",
            labels=["notifier"],
        )
        counters = {
            "sent": CounterMetricFamily("redline_notifier_sent", "Notifications delivered (a 2xx).",
                                        labels=["notifier"]),
            "retried": CounterMetricFamily("redline_notifier_retries", "Transient failures retried with backoff.",
                                           labels=["notifier"]),
            "failed": CounterMetricFamily("redline_notifier_failed",
                                          "Notifications failed permanently (not retried).", labels=["notifier"]),
            "given_up": CounterMetricFamily("redline_notifier_given_up",
                                            "Notifications retried until give_up_after, then given up.",
                                            labels=["notifier"]),
            "dropped": CounterMetricFamily("redline_notifier_dropped",
                                           "Repeat notifications dropped from a full queue.", labels=["notifier"]),
            "coalesced": CounterMetricFamily(
                "redline_notifier_coalesced",
                "Queued repeat notifications not sent because a newer one of the same incident follows them.",
                labels=["notifier"],
            ),
        }
        queued = GaugeMetricFamily("redline_notifier_queue", "Notifications waiting in the outbox.",
                                   labels=["notifier"])
        try:
            pending = self._pending()
        except Exception:  # the alert database is down: /readyz says so; the scrape still answers
            pending = {}
        for name, health in sorted(snapshot.items()):
            broken.add_metric([name], 1.0 if health.broken else 0.0)
            for field, family in counters.items():
                family.add_metric([name], float(getattr(health, field)))
            queued.add_metric([name], float(pending.get(name, 0)))
        yield broken
        yield from counters.values()
        yield queued
