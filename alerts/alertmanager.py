"""An Alertmanager v2 notifier: ``POST /api/v2/alerts`` as Prometheus does it.

Each alert carries ``labels``, ``annotations``, ``startsAt``, ``endsAt`` and ``generatorURL``.
A firing alert's ``endsAt`` is ``now + 4 × resend_interval`` and the outbox re-posts firing
alerts every ``resend_interval_s`` (Prometheus: ``resend_delay`` 1 m, valid for 4 of them), so
an Alertmanager resolves an alert by itself if Redline dies; a resolve posts ``endsAt`` = the
resolve time. Several Alertmanagers (a cluster) get one notifier each, so one down never holds
the others back; identical label sets from several Redline agents are deduplicated by the
cluster's gossip (see the README's "High availability").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from redline.alerts.http_send import post_once, protect_url
from redline.alerts.notifiers import Notification, Notifier, rfc3339

__all__ = ["AlertmanagerNotifier", "alertmanager_alerts"]


def alertmanager_alerts(notifications: Sequence[Notification], now: float, valid_s: float) -> list[dict[str, Any]]:
    """The body of ``POST /api/v2/alerts``: a firing alert ends at ``now + valid_s`` unless re-posted."""
    return [
        {
            "labels": dict(n.labels),
            "annotations": dict(n.annotations),
            "startsAt": rfc3339(n.starts_at),
            "endsAt": rfc3339(n.ends_at if n.status == "resolved" and n.ends_at is not None else now + valid_s),
            "generatorURL": n.generator_url,
        }
        for n in notifications
    ]


class AlertmanagerNotifier(Notifier):
    """Posts alerts to one Alertmanager at ``base_url`` (``http://127.0.0.1:9093``)."""

    def __init__(
        self,
        base_url: str,
        client: httpx.Client,
        *,
        name: str = "alertmanager",
        timeout_s: float | None = None,
        resend_interval_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_batch: int = 100,
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self.resend_interval_s = resend_interval_s
        self._valid_s = 4 * resend_interval_s
        self._url = base_url.rstrip("/") + "/api/v2/alerts"
        protect_url(self._url)  # may carry basic-auth credentials
        self._client = client
        self._timeout_s = timeout_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"AlertmanagerNotifier(name={self.name!r})"

    def send(self, notifications: Sequence[Notification]) -> None:
        """Post the alerts; raises ``DeliveryFailed`` with the verdict."""
        body = alertmanager_alerts(notifications, self._clock(), self._valid_s)
        post_once(
            self._client, self._url, content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "Redline"},
            name=self.name, timeout_s=self._timeout_s, clock=self._clock,
        )
